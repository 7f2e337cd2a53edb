/** Once per jest run: a template database with the schema and seed, copied by each test file. */
import knexFactory from 'knex';
import { migrateLatest, seed } from '../../db';
import { applyGrants } from '../../db/roles';
import { assertTestDatabaseName, infraEnv, templateDatabaseName, withDatabase } from './test-env';

export default async function globalSetup(): Promise<void> {
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  process.env.UDACONNECT_TEST_RUN = run;
  const { databaseUrl } = infraEnv();
  const template = templateDatabaseName(run);
  assertTestDatabaseName(template);
  const admin = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${template}`);
  } finally {
    await admin.destroy();
  }
  const db = knexFactory({ client: 'pg', connection: withDatabase(databaseUrl, template), pool: { min: 0, max: 1 } });
  try {
    await migrateLatest(db);
    await seed(db);
    // Table privileges are copied with the template into every test database (database-level ones
    // are not: createTestDatabase applies those).
    const { missing } = await applyGrants(db);
    if (missing.length) console.warn(`[global-setup] database roles missing (run scripts/provision.sh): ${missing.join(', ')}`);
  } finally {
    await db.destroy();
  }
}
