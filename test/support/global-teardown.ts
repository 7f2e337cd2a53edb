/** Drops every database this run created (the template and the per-file copies). */
import knexFactory from 'knex';
import { dropDatabaseForce } from './drop-database';
import { infraEnv } from './test-env';

export default async function globalTeardown(): Promise<void> {
  const run = process.env.UDACONNECT_TEST_RUN;
  if (!run) return;
  const admin = knexFactory({ client: 'pg', connection: infraEnv().databaseUrl, pool: { min: 0, max: 1 } });
  try {
    const { rows } = await admin.raw<{ rows: Array<{ datname: string }> }>(`SELECT datname FROM pg_database WHERE datname LIKE ?`, [
      `udaconnect_test_${run}_%`,
    ]);
    for (const { datname } of rows) {
      await dropDatabaseForce(admin, datname);
    }
  } finally {
    await admin.destroy();
  }
}
