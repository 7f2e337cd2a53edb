/** Builds person-api in-process against a private copy of the seeded test database and the real Kafka. */
import request from 'supertest';
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { createApp } from '../src/app';
import { startPersonApiAuth } from '../src/auth-setup';
import { serviceTokenSource } from '../src/service-token';
import { testAuth, type TestAuth } from '../../../test/support/auth';
import { startPingPublishing } from '../src/pings';
import { connectionServiceClient } from '../src/connection-client';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';

export interface Harness {
  app: ReturnType<typeof createApp>;
  /** supertest with an organizer token on every request; `request(h.app)` sends none. */
  http: ReturnType<typeof request.agent>;
  auth: TestAuth;
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
  connectionAddress?: string | ((connectionServiceDbUrl: string) => Promise<string>);
  /** LEGACY_ANONYMOUS_READS */
  legacyAnonymousReads?: boolean;
  /** CORS_ORIGINS (default: the frontend's) */
  corsOrigins?: string[];
}

/** person-api's auth settings for the worker's test keys. */
export function personApiAuthSettings(keys: TestAuth, legacyAnonymousReads = false): Parameters<typeof startPersonApiAuth>[0] {
  return {
    AUTH_JWKS_FILE: keys.env.AUTH_JWKS_FILE,
    AUTH_SIGNING_KEY_FILE: keys.env.AUTH_SIGNING_KEY_FILE,
    REVOCATION_POLL_MS: Number(keys.env.REVOCATION_POLL_MS),
    DEVICE_TOKEN_TTL: 30 * 86_400,
    LEGACY_ANONYMOUS_READS: legacyAnonymousReads,
  };
}

export async function startPersonApi(label: string, opts: HarnessOptions = {}): Promise<Harness> {
  const { urlOverride } = opts;
  const testDb = await createTestDatabase(label);
  const logger = createLogger('person-api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = createDatabase({ url: (urlOverride ?? ((u: string) => u))(serviceDatabaseUrl('person-api', testDb.url)), logger, poolMax: 4, acquireTimeoutMs: 1_000 });
  const topic = `test.${runId()}.${label}.locations`;
  const pings = await startPingPublishing({ brokers: infraEnv().kafkaBrokers.split(','), topic, partitions: 2, knex: db.knex, logger });
  const address = typeof opts.connectionAddress === 'function' ? await opts.connectionAddress(serviceDatabaseUrl('connection-service', testDb.url)) : (opts.connectionAddress ?? '127.0.0.1:1');
  const keys = await testAuth();
  const auth = await startPersonApiAuth(personApiAuthSettings(keys, opts.legacyAnonymousReads), db.knex, logger);
  const connections = connectionServiceClient(address, serviceTokenSource(auth.signer), 5_000);
  const app = createApp({
    db,
    logger,
    ...pings,
    connections,
    auth,
    corsOrigins: opts.corsOrigins ?? ['http://localhost:30000'],
    degradedChecks: { kafka: () => pings.bus.isReachable(), connection_service: () => connections.isReachable() },
  });
  return {
    app,
    http: request.agent(app).set('Authorization', `Bearer ${keys.organizer}`),
    auth: keys,
    db,
    testDb,
    topic,
    async close() {
      connections.close();
      auth.stop();
      await pings.close();
      await db.close();
      await testDb.drop();
    },
  };
}
