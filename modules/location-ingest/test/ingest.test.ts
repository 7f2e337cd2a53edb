/** location-ingest against the real PostGIS (person cache) and the real Kafka broker. */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createKafkaBus, createLogger, type KafkaBus } from '@udaconnect/common';
import { decodePing } from '@udaconnect/domain';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { ingestConfigSchema } from '../src/config';
import { INGEST_SERVICE_NAME, startIngest } from '../src/ingest-service';
import { createTestDatabase, type TestDatabase, testKnex } from '../../../test/support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';
import { eventually } from '../../../test/support/eventually';
import { healthStatus, reflectedServices } from '../../../test/support/grpc-probes';
import { testAuth, type TestAuth } from '../../../test/support/auth';

const logger = createLogger('ingest-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const topic = `test.${runId()}.ingest.locations`;
let testDb: TestDatabase;
let ingest: Awaited<ReturnType<typeof startIngest>>;
let client: LocationIngestClient;
let bus: KafkaBus;
const published: LocationPing[] = [];
let stopConsumer: () => Promise<void>;
let auth: TestAuth;

beforeAll(async () => {
  testDb = await createTestDatabase('ingest');
  const { kafkaBrokers } = infraEnv();
  auth = await testAuth();
  const config = ingestConfigSchema.parse({
    PORT: '0',
    METRICS_PORT: '0',
    DATABASE_URL: serviceDatabaseUrl('location-ingest', testDb.url),
    KAFKA_BROKERS: kafkaBrokers,
    LOCATIONS_TOPIC: topic,
    LOCATIONS_PARTITIONS: '3',
    ...auth.env,
  });
  ingest = await startIngest(config, logger);
  await ingest.untilReady();
  client = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions());
  bus = createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: 'ingest-test', logger });
  const consumer = bus.consumer({ groupId: `test-${runId()}-ingest` });
  await consumer.run([topic], async (batch) => {
    for (const m of batch.messages) published.push(decodePing(m.value));
  });
  stopConsumer = () => consumer.close();
});

afterAll(async () => {
  client.close();
  await stopConsumer();
  await bus.close();
  await ingest.stop();
  await testDb.drop();
});

const ping = (over: Partial<LocationPing> = {}): LocationPing => ({
  eventId: randomUUID(),
  personId: 5,
  latitude: 37.553441,
  longitude: -122.290524,
  recordedAt: new Date('2026-11-20T10:11:12.345Z'),
  ...over,
});

const record = (p: LocationPing) => new Promise<{ eventId: string }>((resolve, reject) => client.record(p, (err, res) => (err ? reject(err) : resolve(res))));

function recordStream(pings: LocationPing[]): Promise<StreamSummary> {
  return new Promise((resolve, reject) => {
    const call = client.recordStream((err, res) => (err ? reject(err) : resolve(res)));
    for (const p of pings) call.write(p);
    call.end();
  });
}

const publishedIds = () => new Set(published.map((p) => p.eventId));

describe('Record', () => {
  it('acknowledges a valid ping with its event id, after it is in Kafka keyed by person', async () => {
    const p = ping();
    expect(await record(p)).toEqual({ eventId: p.eventId });
    const got = await eventually(() => {
      const m = published.find((x) => x.eventId === p.eventId);
      if (!m) throw new Error('not yet consumed');
      return m;
    });
    expect(got).toEqual(p);
  });

  it('assigns an event id when the device sends none', async () => {
    const ack = await record(ping({ eventId: '' }));
    expect(ack.eventId).toMatch(/^[0-9a-f-]{36}$/);
    await eventually(() => expect(publishedIds().has(ack.eventId)).toBe(true));
  });

  const bad: Array<[string, Partial<LocationPing>, grpc.status, RegExp]> = [
    ['latitude above 90', { latitude: 90.5 }, grpc.status.INVALID_ARGUMENT, /^latitude: .*\[-90, 90\]/],
    ['latitude NaN', { latitude: NaN }, grpc.status.INVALID_ARGUMENT, /^latitude:/],
    ['longitude below -180', { longitude: -180.01 }, grpc.status.INVALID_ARGUMENT, /^longitude: .*\[-180, 180\]/],
    ['longitude Infinity', { longitude: Infinity }, grpc.status.INVALID_ARGUMENT, /^longitude:/],
    ['no time', { recordedAt: undefined }, grpc.status.INVALID_ARGUMENT, /^recorded_at: is required/],
    ['zero time', { recordedAt: new Date(0) }, grpc.status.INVALID_ARGUMENT, /^recorded_at: must be after 1970-01-01T00:00:00Z/],
    ['time 10 minutes ahead', { recordedAt: new Date(Date.now() + 10 * 60_000) }, grpc.status.INVALID_ARGUMENT, /^recorded_at: .*future/],
    ['a malformed event id', { eventId: 'not-a-uuid' }, grpc.status.INVALID_ARGUMENT, /^event_id: must be a UUID/],
    ['an unknown person', { personId: 424242 }, grpc.status.NOT_FOUND, /^person_id: no person with id 424242/],
    ['person id 0', { personId: 0 }, grpc.status.INVALID_ARGUMENT, /^person_id:/],
  ];

  it.each(bad)('rejects %s with the right code and a message naming the field', async (_what, over, code, message) => {
    const p = ping(over);
    const err = (await record(p).catch((e) => e)) as grpc.ServiceError;
    expect(err.code).toBe(code);
    expect(err.details).toMatch(message);
  });

  it('accepts a person created after start-up (the cache looks up unknown ids)', async () => {
    const k = testKnex(testDb.url);
    const [{ id }] = await k('person').insert({ first_name: 'New', last_name: 'Comer', company_name: 'X' }).returning('id');
    await k.destroy();
    const p = ping({ personId: id });
    expect(await record(p)).toEqual({ eventId: p.eventId });
  });
});

describe('RecordStream', () => {
  it('stores the good pings of a stream with bad ones in the middle, and reports each bad one with its index', async () => {
    const good = Array.from({ length: 300 }, (_, i) => ping({ personId: [1, 5, 6, 8, 9][i % 5]!, latitude: 37.5 + i * 1e-5 }));
    const stream = [
      ...good.slice(0, 100),
      ping({ latitude: 200 }),
      ...good.slice(100, 200),
      ping({ personId: 777 }),
      ping({ recordedAt: undefined }),
      ...good.slice(200),
    ];
    const summary = await recordStream(stream);
    expect(summary.accepted).toBe(300);
    expect(summary.rejected).toBe(3);
    expect(summary.rejections.map((r) => [r.index, r.reason.split(':')[0]])).toEqual([
      [100, 'latitude'],
      [201, 'person_id'],
      [202, 'recorded_at'],
    ]);
    await eventually(() => {
      const ids = publishedIds();
      expect(good.filter((g) => !ids.has(g.eventId))).toEqual([]);
    });
    // Nothing invalid reached Kafka.
    const badIds = new Set(summary.rejections.map((r) => r.eventId));
    expect(published.filter((p) => badIds.has(p.eventId))).toEqual([]);
    expect(published.every((p) => p.latitude! <= 90 && p.personId !== 777 && p.recordedAt)).toBe(true);
  });

  it('answers an empty stream with an empty summary', async () => {
    expect(await recordStream([])).toEqual({ accepted: 0, rejected: 0, rejections: [], rejectedByReason: {}, rejectionsTruncated: false });
  });
});

describe('health and reflection', () => {
  it('serves grpc.health.v1 (SERVING) and lists the services through reflection', async () => {
    expect(await healthStatus(ingest.port)).toBe('SERVING');
    expect(await healthStatus(ingest.port, INGEST_SERVICE_NAME)).toBe('SERVING');
    expect(await reflectedServices(ingest.port)).toEqual(expect.arrayContaining([INGEST_SERVICE_NAME, 'grpc.health.v1.Health']));
  });
});
