/** What PostgreSQL is running now, for tests that check a cancelled call stopped its SQL. */
import type { Knex } from 'knex';

/** Backends of connection-service running a proximity query now (not this connection). */
export async function runningProximityQueries(knex: Knex): Promise<number> {
  const result = await knex.raw<{ rows: Array<{ n: number }> }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'connection-service'
        AND state = 'active' AND query LIKE '%ST_DWithin%'`,
  );
  return result.rows[0]!.n;
}

/** Polls `what` every 50 ms for up to `ms`; its last answer. */
export async function waitFor(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return what();
}
