/**
 * DROP DATABASE … WITH (FORCE) for test and benchmark databases. FORCE ends the sessions still
 * connected, but a role that is neither superuser nor in pg_signal_backend may not end an
 * autovacuum worker that happens to be in the database (it has no role of ours): PostgreSQL then
 * refuses with 42501. The worker is short-lived on these small databases, so wait and try again.
 */
import type { Knex } from 'knex';
import { retry } from '../../modules/common/src/backoff';

const INSUFFICIENT_PRIVILEGE = '42501';

export async function dropDatabaseForce(admin: Knex, name: string, deadlineMs = 20_000): Promise<void> {
  await retry(() => admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), {
    deadlineMs,
    baseMs: 100,
    capMs: 2_000,
    retryIf: (err) => (err as { code?: string }).code === INSUFFICIENT_PRIVILEGE,
  });
}
