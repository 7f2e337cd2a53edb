/** Builds person-api in-process against a private copy of the seeded test database and the real Kafka. */
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { createApp } from '../src/app';
import { startPingPublishing } from '../src/pings';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { infraEnv, runId } from '../../../test/support/test-env';

export interface Harness {
  app: ReturnType<typeof createApp>;
  db: Database;
  testDb: TestDatabase;
  /** The Kafka topic POST /api/locations publishes to in this test file. */
  topic: string;
  close(): Promise<void>;
}

export async function startPersonApi(label: string, urlOverride?: (url: string) => string): Promise<Harness> {
  const testDb = await createTestDatabase(label);
  const logger = createLogger('person-api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = createDatabase({ url: urlOverride ? urlOverride(testDb.url) : testDb.url, logger, poolMax: 4, acquireTimeoutMs: 1_000 });
  const topic = `test.${runId()}.${label}.locations`;
  const pings = await startPingPublishing({ brokers: infraEnv().kafkaBrokers.split(','), topic, partitions: 2, knex: db.knex, logger });
  const app = createApp({ db, logger, ...pings, readinessChecks: { kafka: () => pings.bus.isReachable() } });
  return {
    app,
    db,
    testDb,
    topic,
    async close() {
      await pings.close();
      await db.close();
      await testDb.drop();
    },
  };
}
