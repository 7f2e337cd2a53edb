/**
 * The start-up rule (docs/decisions.md, "Start without dependencies"), for all four services at
 * once: started while PostgreSQL and Kafka are unreachable (both behind cut TCP proxies), each
 * one starts in seconds, answers its health endpoint as not ready, and turns ready by itself once
 * the dependencies come back, without a restart. A device token is refused with UNAVAILABLE
 * (never let through) while the revoked-token list could not be read yet.
 */
import * as grpc from '@grpc/grpc-js';
import request from 'supertest';
import { createLogger, parseConfig } from '@udaconnect/common';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { startConnectionService } from '../../modules/connection-service/src/connection-service';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { startLocationWriter } from '../../modules/location-writer/src/location-writer';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { startPersonApi } from '../../modules/person-api/src/person-api';
import { LocationIngestClient, type LocationPing } from '@udaconnect/proto';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';
import { healthStatus } from '../support/grpc-probes';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { createTestDatabase, testKnex, type TestDatabase } from '../support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../support/test-env';

const logger = createLogger('startup-rule-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const closers: Array<() => unknown> = [];
let testDb: TestDatabase;
let pgProxy: TcpProxy;
let kafkaProxy: TcpProxy;

beforeAll(async () => {
  testDb = await createTestDatabase('startup');
  const pg = new URL(infraEnv().databaseUrl);
  pgProxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  const [kafkaHost, kafkaPort] = infraEnv().kafkaBrokers.split(',')[0]!.split(':') as [string, string];
  kafkaProxy = await startTcpProxy(kafkaHost, Number(kafkaPort));
  await Promise.all([pgProxy.cut(), kafkaProxy.cut()]);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await pgProxy?.close();
  await kafkaProxy?.close();
  await testDb?.drop();
});

/** The test database through the (cut) proxy, with `service`'s own role. */
const viaProxy = (service: Parameters<typeof serviceDatabaseUrl>[0]) => {
  const u = new URL(serviceDatabaseUrl(service, testDb.url));
  u.hostname = '127.0.0.1';
  u.port = String(pgProxy.port);
  return u.toString();
};

test('every service starts with PostgreSQL and Kafka down, reports not ready, and becomes ready by itself when they return', async () => {
  const auth = await testAuth();
  const unique = `${runId()}.startup.${process.pid}`;
  const common = {
    KAFKA_BROKERS: `127.0.0.1:${kafkaProxy.port}`,
    LOCATIONS_TOPIC: `test.${unique}.locations`,
    LOCATIONS_PARTITIONS: '2',
    PORT: '0',
    METRICS_PORT: '0',
    ...auth.env,
  };

  const started = Date.now();
  const api = await startPersonApi(
    parseConfig(personApiConfigSchema, { ...common, DATABASE_URL: viaProxy('person-api'), CONNECTION_SERVICE_ADDRESS: '127.0.0.1:1' }),
    logger,
  );
  closers.push(() => api.close());
  const ingest = await startIngest(
    parseConfig(ingestConfigSchema, { ...common, DATABASE_URL: viaProxy('location-ingest'), KAFKA_HEALTH_INTERVAL_MS: '500' }),
    logger,
  );
  closers.push(() => ingest.stop());
  const writer = await startLocationWriter(
    parseConfig(locationWriterConfigSchema, {
      ...common,
      DATABASE_URL: viaProxy('location-writer'),
      KAFKA_GROUP_ID: `test.${unique}.writer`,
      LOCATIONS_DLQ_TOPIC: `test.${unique}.locations.dlq`,
    }),
    logger,
  );
  closers.push(() => writer.stop());
  const connections = await startConnectionService(
    parseConfig(connectionConfigSchema, { ...common, DATABASE_URL: viaProxy('connection-service'), DB_HEALTH_INTERVAL_MS: '500' }),
    logger,
  );
  closers.push(() => connections.stop());
  // Each start made one bounded attempt per dependency at most (a refused connection fails fast).
  expect(Date.now() - started).toBeLessThan(20_000);

  // Down: every health endpoint says so; work that needs a dependency is refused, not queued.
  const apiReady = await request(api.app).get('/readyz').expect(503);
  expect(apiReady.body.detail).toMatch(/database/);
  await request(api.app).get('/healthz').expect(200);
  expect(await healthStatus(ingest.port)).toBe('NOT_SERVING');
  expect(await healthStatus(connections.port)).toBe('NOT_SERVING');
  const writerReady = await request(`http://127.0.0.1:${writer.port}`).get('/readyz').expect(503);
  expect(writerReady.body.detail).toMatch(/consumer/);
  const device = await auth.attendee(5);
  const client = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions(device));
  closers.push(() => client.close());
  const ping: LocationPing = { personId: 5, latitude: 37.553441, longitude: -122.290524, recordedAt: new Date(), eventId: '' };
  const refused = await new Promise<grpc.ServiceError | null>((resolve) => client.record(ping, (err) => resolve(err)));
  expect(refused?.code).toBe(grpc.status.UNAVAILABLE);
  expect(refused?.details).toMatch(/revoked-token list is not loaded/);

  // Back: all four turn ready without a restart, and a ping goes through to PostGIS.
  await Promise.all([pgProxy.restore(), kafkaProxy.restore()]);
  await eventually(() => request(api.app).get('/readyz').expect(200), 60_000, 500);
  await eventually(async () => expect(await healthStatus(ingest.port)).toBe('SERVING'), 60_000, 500);
  await eventually(async () => expect(await healthStatus(connections.port)).toBe('SERVING'), 60_000, 500);
  await eventually(() => request(`http://127.0.0.1:${writer.port}`).get('/readyz').expect(200), 60_000, 500);
  const ack = await new Promise<{ eventId: string }>((resolve, reject) => client.record(ping, (err, res) => (err ? reject(err) : resolve(res))));
  expect(ack.eventId).toMatch(/^[0-9a-f-]{36}$/);
  const knex = testKnex(testDb.url);
  closers.push(() => knex.destroy());
  await eventually(async () => expect(await knex('location').where({ event_id: ack.eventId }).first()).toMatchObject({ person_id: 5 }), 30_000);
}, 150_000);
