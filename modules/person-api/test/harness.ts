/** Builds person-api in-process against a private copy of the seeded test database and the real Kafka. */
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { createApp } from '../src/app';
import { startPingPublishing } from '../src/pings';
import { connectionServiceClient } from '../src/connection-client';
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

export interface HarnessOptions {
  /** Rewrites the database URL the app uses (e.g. to go through a TCP proxy). */
  urlOverride?: (url: string) => string;
  /** connection-service address; by default one where nothing listens (the endpoint answers 503). */
  connectionAddress?: string | ((testDbUrl: string) => Promise<string>);
}

export async function startPersonApi(label: string, opts: HarnessOptions = {}): Promise<Harness> {
  const { urlOverride } = opts;
  const testDb = await createTestDatabase(label);
  const logger = createLogger('person-api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = createDatabase({ url: urlOverride ? urlOverride(testDb.url) : testDb.url, logger, poolMax: 4, acquireTimeoutMs: 1_000 });
  const topic = `test.${runId()}.${label}.locations`;
  const pings = await startPingPublishing({ brokers: infraEnv().kafkaBrokers.split(','), topic, partitions: 2, knex: db.knex, logger });
  const address = typeof opts.connectionAddress === 'function' ? await opts.connectionAddress(testDb.url) : (opts.connectionAddress ?? '127.0.0.1:1');
  const connections = connectionServiceClient(address, 5_000);
  const app = createApp({
    db,
    logger,
    ...pings,
    connections,
    degradedChecks: { kafka: () => pings.bus.isReachable(), connection_service: () => connections.isReachable() },
  });
  return {
    app,
    db,
    testDb,
    topic,
    async close() {
      connections.close();
      await pings.close();
      await db.close();
      await testDb.drop();
    },
  };
}
