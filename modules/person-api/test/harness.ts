/** Builds person-api in-process against a private copy of the seeded test database. */
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { createApp } from '../src/app';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';

export interface Harness {
  app: ReturnType<typeof createApp>;
  db: Database;
  testDb: TestDatabase;
  close(): Promise<void>;
}

export async function startPersonApi(label: string, urlOverride?: (url: string) => string): Promise<Harness> {
  const testDb = await createTestDatabase(label);
  const logger = createLogger('person-api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = createDatabase({ url: urlOverride ? urlOverride(testDb.url) : testDb.url, logger, poolMax: 4, acquireTimeoutMs: 1_000 });
  const app = createApp({ db, logger });
  return {
    app,
    db,
    testDb,
    async close() {
      await db.close();
      await testDb.drop();
    },
  };
}
