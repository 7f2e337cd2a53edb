/**
 * DROP DATABASE … WITH (FORCE) for test and benchmark databases. FORCE ends the sessions still
 * connected, but a role that is neither superuser nor in pg_signal_backend may not end an
 * autovacuum worker that happens to be in the database (it has no role of ours): PostgreSQL then
 * refuses with 42501. The worker is short-lived on these small databases, so wait and try again.
 */
import type { Knex } from 'knex';

const INSUFFICIENT_PRIVILEGE = '42501';

export async function dropDatabaseForce(admin: Knex, name: string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (let waitMs = 100; ; waitMs = Math.min(waitMs * 2, 2_000)) {
    try {
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE || Date.now() + waitMs > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
