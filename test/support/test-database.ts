/** A fresh copy of the migrated and seeded template database, private to one test file. */
import knexFactory, { type Knex } from 'knex';
import { PG_TYPES } from '@udaconnect/common';
import { applyDatabaseAcl } from '../../db/roles';
import { dropDatabaseForce } from './drop-database';
import { assertTestDatabaseName, infraEnv, runId, templateDatabaseName, withDatabase } from './test-env';

let counter = 0;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const run = runId();
  const name = `udaconnect_test_${run}_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${process.pid}_${++counter}`;
  assertTestDatabaseName(name);
  const { databaseUrl } = infraEnv();
  const admin = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name} TEMPLATE ${templateDatabaseName(run)}`);
    await applyDatabaseAcl(admin, name);
  } finally {
    await admin.destroy();
  }
  return {
    name,
    url: withDatabase(databaseUrl, name),
    async drop() {
      const a = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
      try {
        await dropDatabaseForce(a, name);
      } finally {
        await a.destroy();
      }
    },
  };
}

/** A small pool for a test's own queries, reading rows as the services' pools do (PG_TYPES: int8 as numbers). */
export function testKnex(url: string, max = 2): Knex {
  return knexFactory({ client: 'pg', connection: { connectionString: url, types: PG_TYPES }, pool: { min: 0, max } });
}

/**
 * A private test database for the whole test file: created (with a testKnex pool) before its tests,
 * pool closed and database dropped after them. `knex` is there once the file's beforeAll has run.
 */
export function useTestDatabase(label: string): { readonly knex: Knex; readonly db: TestDatabase } {
  let db: TestDatabase | undefined;
  let knex: Knex | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(label);
    knex = testKnex(db.url);
  });
  afterAll(async () => {
    await knex?.destroy();
    await db?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`the test database ${label} is used before beforeAll created it`);
    return value;
  };
  return {
    get knex() {
      return ready(knex);
    },
    get db() {
      return ready(db);
    },
  };
}
