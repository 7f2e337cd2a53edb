/**
 * person-api in-process through its start function (src/person-api.ts), on a private copy of the
 * seeded test database, as its own PostgreSQL role, with the worker's test keys. Ping publishing
 * is in memory unless `kafka: true` (then the real broker and a private topic).
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { createLogger, parseConfig } from '@udaconnect/common';
import { personApiConfigSchema } from '../src/config';
import { startPersonApi, type PersonApi } from '../src/person-api';
import { connectionConfigSchema } from '../../connection-service/src/config';
import { startConnectionService, type ConnectionService } from '../../connection-service/src/connection-service';
import { testAuth, type TestAuth } from '../../../test/support/auth';
import { createTestDatabase, type TestDatabase, testKnex } from '../../../test/support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';
import { eventually } from '../../../test/support/eventually';
import { InMemoryPingPublishing } from './fakes';
import type { MeetingWatcher } from '../src/meeting-client';

export interface Harness {
  app: PersonApi['app'];
  /** http://localhost:<port> of the running server. */
  url: string;
  /** supertest with an organizer token on every request; `request(h.app)` sends none. */
  http: ReturnType<typeof request.agent>;
  auth: TestAuth;
  /** The test's own pool (the admin role), for setting up and checking rows. */
  knex: Knex;
  testDb: TestDatabase;
  /** The in-memory ping publishing, unless the harness was started with `kafka: true`. */
  pings?: InMemoryPingPublishing;
  /** The Kafka topic POST /api/locations publishes to with `kafka: true`. */
  topic: string;
  /** The real connection-service, with `connectionService: true`. */
  connectionService?: ConnectionService;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Publish POST /api/locations pings to the real broker (default: in memory). */
  kafka?: boolean;
  /** KAFKA_BROKERS for `kafka: true` (default: the provisioned broker), e.g. through a TCP proxy. */
  kafkaBrokers?: string;
  /** With `kafka: true`, return once the producer is connected (default), so the topic exists. */
  waitForKafka?: boolean;
  /** Rewrites the database URL the app uses (e.g. to go through a TCP proxy). */
  urlOverride?: (url: string) => string;
  /**
   * `true`: a real connection-service on the same test database (as its own role, the same test
   * keys), stopped with the harness. A string: that address. Default: one where nothing listens
   * (the connection endpoint answers 503).
   */
  connectionService?: boolean | string;
  /** More environment for that connection-service's config (its limits, say). */
  connectionServiceEnv?: Record<string, string>;
  /** More environment for person-api's config. */
  env?: Record<string, string>;
  /** Meetings/Watch stand-in for GET /api/persons/{id}/meetings/live (default: the connection-service address). */
  meetings?: MeetingWatcher;
  /** LEGACY_ANONYMOUS_READS */
  legacyAnonymousReads?: boolean;
  /** CORS_ORIGINS (default: the frontend's) */
  corsOrigins?: string[];
}

/** person-api starts without Kafka and connects its producer in the background: wait until /readyz says it has. */
export async function waitForKafkaProducer(app: PersonApi['app']): Promise<void> {
  await eventually(async () => expect((await request(app).get('/readyz')).body).toMatchObject({ checks: { kafka: true } }), 30_000);
}

export async function startTestPersonApi(label: string, opts: HarnessOptions = {}): Promise<Harness> {
  const testDb = await createTestDatabase(label);
  const logger = createLogger('person-api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const knex = testKnex(testDb.url);
  const topic = `test.${runId()}.${label}.locations`;
  const keys = await testAuth();
  const connectionService =
    opts.connectionService === true
      ? await startConnectionService(
          parseConfig(connectionConfigSchema, {
            PORT: '0',
            METRICS_PORT: '0',
            DATABASE_URL: serviceDatabaseUrl('connection-service', testDb.url),
            ...keys.env,
            ...opts.connectionServiceEnv,
          }),
          createLogger('connection-service-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
        )
      : undefined;
  const address = connectionService
    ? `127.0.0.1:${connectionService.port}`
    : typeof opts.connectionService === 'string'
      ? opts.connectionService
      : '127.0.0.1:1';
  const config = parseConfig(personApiConfigSchema, {
    PORT: '0',
    METRICS_PORT: '0',
    DATABASE_URL: (opts.urlOverride ?? ((u: string) => u))(serviceDatabaseUrl('person-api', testDb.url)),
    DB_POOL_MAX: '4',
    KAFKA_BROKERS: opts.kafkaBrokers ?? infraEnv().kafkaBrokers,
    LOCATIONS_TOPIC: topic,
    LOCATIONS_PARTITIONS: '2',
    CONNECTION_SERVICE_ADDRESS: address,
    ...keys.env,
    LEGACY_ANONYMOUS_READS: String(opts.legacyAnonymousReads ?? false),
    // openapi-fuzz.test.ts sends ~10,600 requests with the one organizer token; rate-limits.test.ts tests the limits.
    RATE_LIMIT_ORGANIZER: '100000',
    ...(opts.corsOrigins ? { CORS_ORIGINS: opts.corsOrigins.join(',') } : {}),
    ...opts.env,
  });
  const pings = opts.kafka ? undefined : new InMemoryPingPublishing(knex);
  const api = await startPersonApi(config, logger, { ...(pings ? { pings } : {}), ...(opts.meetings ? { meetings: opts.meetings } : {}) });
  if (opts.kafka && opts.waitForKafka !== false) await waitForKafkaProducer(api.app);
  return {
    app: api.app,
    url: api.url,
    http: request.agent(api.app).set('Authorization', `Bearer ${keys.organizer}`),
    auth: keys,
    knex,
    testDb,
    pings,
    topic,
    connectionService,
    async close() {
      await api.close();
      await connectionService?.stop();
      await knex.destroy();
      await testDb.drop();
    },
  };
}
