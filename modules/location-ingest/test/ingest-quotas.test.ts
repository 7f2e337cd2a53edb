/**
 * Per-token quotas of location-ingest (docs/contract.md §7, "Ingest quotas"), through real gRPC and the real broker, with
 * small limits: attendee tokens 1 ping/s and a reserve of 20 (a 20 s window), 10 pings per stream;
 * organizer tokens 500 pings/s, 100 per stream. Over a quota a call ends with RESOURCE_EXHAUSTED and
 * `quota` and `retry-after-ms` metadata; the refused pings never reach Kafka.
 *
 * Fixed one-second windows: wherever calls may span windows, the bounds allow one more ping per
 * second the calls took, so a slow machine does not fail the tests.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { createKafkaBus, createLogger, type KafkaBus } from '@udaconnect/common';
import { decodePing } from '@udaconnect/domain';
import { LocationIngestClient, type LocationPing, type RecordAck, type StreamSummary } from '@udaconnect/proto';
import { ingestConfigSchema } from '../src/config';
import { startIngest } from '../src/ingest-service';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';
import { eventually } from '../../../test/support/eventually';
import { testAuth, type TestAuth } from '../../../test/support/auth';
import { metricsText } from '../../../test/support/metrics-text';

const logger = createLogger('ingest-quotas-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const topic = `test.${runId()}.ingest-quotas.locations`;
const PERSON = 5;
let testDb: TestDatabase;
let ingest: Awaited<ReturnType<typeof startIngest>>;
let auth: TestAuth;
let bus: KafkaBus;
let stopConsumer: () => Promise<void>;
const published = new Set<string>();
const clients: LocationIngestClient[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase('ingestquotas');
  const { kafkaBrokers } = infraEnv();
  auth = await testAuth();
  const config = ingestConfigSchema.parse({
    PORT: '0',
    METRICS_PORT: '0',
    DATABASE_URL: serviceDatabaseUrl('location-ingest', testDb.url),
    KAFKA_BROKERS: kafkaBrokers,
    LOCATIONS_TOPIC: topic,
    LOCATIONS_PARTITIONS: '3',
    INGEST_PINGS_PER_SECOND: '1',
    INGEST_PING_BURST: '20',
    INGEST_MAX_PINGS_PER_STREAM: '10',
    INGEST_ORGANIZER_PINGS_PER_SECOND: '500',
    INGEST_ORGANIZER_PING_BURST: '0',
    INGEST_ORGANIZER_MAX_PINGS_PER_STREAM: '100',
    ...auth.env,
  });
  ingest = await startIngest(config, logger);
  await ingest.untilReady();
  bus = createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: 'ingest-quotas-test', logger });
  const consumer = bus.consumer({ groupId: `test-${runId()}-ingest-quotas` });
  await consumer.run([topic], async (batch) => {
    for (const m of batch.messages) published.add(decodePing(m.value).eventId);
  });
  stopConsumer = () => consumer.close();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await stopConsumer?.();
  await bus?.close();
  await ingest?.stop();
  await testDb?.drop();
});

/** A client sending `token` (its own channel). */
function clientFor(token: string): LocationIngestClient {
  const c = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions(token));
  clients.push(c);
  return c;
}

const device = async () => clientFor(await auth.attendee(PERSON));
const organizer = async () => clientFor((await auth.signer.sign({ role: 'organizer', subject: 'organizer:quota-test', ttlSeconds: 3600 })).token);

const ping = (): LocationPing => ({
  eventId: randomUUID(),
  personId: PERSON,
  latitude: 37.553441,
  longitude: -122.290524,
  recordedAt: new Date(Date.now() - 60_000),
});
const pings = (n: number) => Array.from({ length: n }, ping);

const record = (c: LocationIngestClient, p: LocationPing) =>
  new Promise<RecordAck>((resolve, reject) => c.record(p, (err, res) => (err ? reject(err) : resolve(res))));

function recordStream(c: LocationIngestClient, list: LocationPing[]): Promise<StreamSummary> {
  return new Promise((resolve, reject) => {
    const call = c.recordStream((err, res) => (err ? reject(err) : resolve(res)));
    // The server may end the call before every ping is written.
    call.on('error', () => undefined);
    for (const p of list) call.write(p);
    call.end();
  });
}

const recordBatch = (c: LocationIngestClient, list: LocationPing[]) =>
  new Promise<StreamSummary>((resolve, reject) => c.recordBatch({ pings: list }, (err, res) => (err ? reject(err) : resolve(res))));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => Promise.reject(new Error('expected the call to fail')),
    (e: grpc.ServiceError) => e,
  );

/** All at once: which were acknowledged, which refused, and how long the calls took. */
async function recordAll(c: LocationIngestClient, list: LocationPing[]) {
  const started = performance.now();
  const results = await Promise.allSettled(list.map((p) => record(c, p)));
  const seconds = (performance.now() - started) / 1000;
  const accepted = list.filter((_, i) => results[i]!.status === 'fulfilled');
  const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [{ ping: list[i]!, err: r.reason as grpc.ServiceError }] : []));
  return { accepted, refused, seconds };
}

const meta = (err: grpc.ServiceError, key: string) => err.metadata.get(key).map(String);

/**
 * Waits until an organizer ping for the same person, sent now, is consumed: everything published
 * before it for that person (one partition, in order) has been consumed too.
 */
async function consumedSoFar(): Promise<void> {
  const marker = ping();
  await record(clientFor(auth.organizer), marker);
  await eventually(() => expect(published.has(marker.eventId)).toBe(true), 30_000);
}

async function rateLimitedCount(): Promise<number> {
  const body = await metricsText(ingest.metricsPort);
  const line = body.split('\n').find((l) => l.startsWith('udaconnect_pings_total{') && l.includes('outcome="rate_limited"') && l.includes('transport="grpc"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const RATE_DETAILS = /^quota used up \(1 pings per second and a reserve of 20, per token\): retry after (\d+) ms with the same event_id$/;

describe('Record', () => {
  it('refuses pings over the token’s rate with RESOURCE_EXHAUSTED and retry-after-ms, publishes none of them, and accepts again after the delay', async () => {
    const a = await device();
    const countBefore = await rateLimitedCount();
    const { accepted, refused, seconds } = await recordAll(a, pings(40));

    // 1 in the first window and the reserve of 20; at most one more per further second.
    expect(accepted.length).toBeGreaterThanOrEqual(21);
    expect(accepted.length).toBeLessThanOrEqual(21 + Math.ceil(seconds) + 1);
    expect(refused.length).toBe(40 - accepted.length);
    for (const { err } of refused) {
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(RATE_DETAILS);
      expect(meta(err, 'quota')).toEqual(['pings_per_second']);
      const [retry] = meta(err, 'retry-after-ms');
      expect(retry).toMatch(/^\d+$/);
      expect(Number(retry)).toBeLessThanOrEqual(1_000);
      expect(err.details).toContain(`retry after ${retry} ms`);
    }
    expect(await rateLimitedCount()).toBe(countBefore + refused.length);

    // Waiting as told: the next window has room again.
    const wait = Math.max(...refused.map(({ err }) => Number(meta(err, 'retry-after-ms')[0])));
    await new Promise((r) => setTimeout(r, wait + 100));
    const again = ping();
    expect(await record(a, again)).toEqual({ eventId: again.eventId });

    await consumedSoFar();
    expect(accepted.filter((p) => !published.has(p.eventId))).toEqual([]);
    expect(refused.filter(({ ping: p }) => published.has(p.eventId))).toEqual([]);
    expect(published.has(again.eventId)).toBe(true);
  });

  it('keeps each token’s quota apart: another device of the same person is accepted in full while the first one is refused', async () => {
    const a = await device();
    const b = await device();
    const exhausted = await recordAll(a, pings(30));
    expect(exhausted.refused.length).toBeGreaterThan(0);

    const other = await recordAll(b, pings(21));
    expect(other.refused.map(({ err }) => err.details)).toEqual([]);
    // a is still over its quota: at most one ping per window.
    const still = await recordAll(a, pings(10));
    expect(still.accepted.length).toBeLessThanOrEqual(Math.ceil(still.seconds) + 1);
    expect(still.refused.every(({ err }) => err.code === grpc.status.RESOURCE_EXHAUSTED)).toBe(true);
  });
});

describe('RecordStream', () => {
  it('ends a stream over the token’s rate with RESOURCE_EXHAUSTED naming the message; no ping from there on is published', async () => {
    const c = await device();
    // Spend the reserve with Record first (a stream of an attendee is at most 10 pings here).
    const spent = await recordAll(c, pings(30));
    expect(spent.refused.length).toBeGreaterThan(0);

    const batch = pings(9);
    const err = await failure(recordStream(c, batch));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const m =
      /^message (\d+) of the stream is over the quota \(1 pings per second and a reserve of 20, per token\); the call is ended, and the pings before it may have been stored: re-send the batch with the same event ids after (\d+) ms, in shorter streams$/.exec(
        err.details,
      );
    expect(m).not.toBeNull();
    expect(meta(err, 'quota')).toEqual(['pings_per_second']);
    expect(meta(err, 'retry-after-ms')).toEqual([m![2]]);
    const at = Number(m![1]);
    expect(at).toBeLessThan(batch.length);

    await consumedSoFar();
    expect(batch.slice(at).filter((p) => published.has(p.eventId))).toEqual([]);
  });

  it('accepts a stream of exactly the maximum and ends a longer one at the first message over it', async () => {
    const full = pings(10);
    expect(await recordStream(await device(), full)).toMatchObject({ accepted: 10, rejected: 0 });

    const long = pings(11);
    const err = await failure(recordStream(await device(), long));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(
      'message 10 of the stream is over the quota (10 pings per stream); the call is ended, and the pings before it may have been stored: re-send the batch with the same event ids in shorter streams',
    );
    expect(meta(err, 'quota')).toEqual(['pings_per_stream']);
    expect(meta(err, 'retry-after-ms')).toEqual(['0']);

    await consumedSoFar();
    expect(full.filter((p) => !published.has(p.eventId))).toEqual([]);
    expect(published.has(long[10]!.eventId)).toBe(false);
  });
});

describe('RecordBatch', () => {
  it('takes a batch from the rate whole: one within the reserve is stored, the next over it is refused entire with retry-after-ms, nothing of it published', async () => {
    const c = await device();
    const first = pings(10);
    expect(await recordBatch(c, first)).toMatchObject({ accepted: 10, rejected: 0 });
    // A batch of 10 is more than the 1 per second: it comes from the reserve of 20, which holds two such batches, not three.
    expect(await recordBatch(c, pings(10))).toMatchObject({ accepted: 10, rejected: 0 });
    const refused = pings(10);
    const err = await failure(recordBatch(c, refused));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const m =
      /^a batch of 10 pings is over the quota \(1 pings per second and a reserve of 20, per token\); nothing was stored: re-send it after (\d+) ms$/.exec(
        err.details,
      );
    expect(m).not.toBeNull();
    expect(meta(err, 'quota')).toEqual(['pings_per_second']);
    expect(meta(err, 'retry-after-ms')).toEqual([m![1]]);
    await consumedSoFar();
    expect(first.filter((p) => !published.has(p.eventId))).toEqual([]);
    expect(refused.filter((p) => published.has(p.eventId))).toEqual([]);
  });

  it('refuses a batch longer than a call may carry, and one larger than the rate could ever take, with RESOURCE_EXHAUSTED and retry-after-ms 0', async () => {
    const long = await failure(recordBatch(await device(), pings(11)));
    expect(long.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(long.details).toBe('a batch of 11 pings is over the quota (10 pings per stream); nothing was stored: re-send it in smaller batches');
    expect(meta(long, 'quota')).toEqual(['pings_per_stream']);
    expect(meta(long, 'retry-after-ms')).toEqual(['0']);

    // Organizer tokens here: 500 per second, no reserve, 100 per call; the rate's "at once" limit is only reached by an organizer batch over 500, which the per-call limit refuses first.
    const big = await failure(recordBatch(await organizer(), pings(101)));
    expect(meta(big, 'quota')).toEqual(['pings_per_stream']);
  });

  it('refuses more than 5,000 pings in one message with INVALID_ARGUMENT, and a body that is not a LocationBatch likewise', async () => {
    const c = await organizer();
    const tooMany = await failure(recordBatch(c, pings(5_001)));
    expect(tooMany.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooMany.details).toBe('pings: the batch has 5001 pings, at most 5000 are taken at once; split it (nothing was stored)');

    // Field 1 (a ping) announcing more bytes than the message has: not a LocationBatch.
    const raw = new grpc.Client(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions(auth.organizer));
    const err = await failure(
      new Promise((resolve, reject) =>
        raw.makeUnaryRequest(
          '/udaconnect.location.v1.LocationIngest/RecordBatch',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      ),
    );
    raw.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^the request is not a LocationBatch protobuf/);
  });
});

describe('organizer tokens', () => {
  it('have their own, larger limits: 40 Records at once and a stream of 100 are accepted; a stream of 101 ends at message 100', async () => {
    const org = await organizer();
    const burst = await recordAll(org, pings(40));
    expect(burst.refused.map(({ err }) => err.details)).toEqual([]);
    expect(await recordStream(org, pings(100))).toMatchObject({ accepted: 100, rejected: 0 });

    const long = pings(101);
    const err = await failure(recordStream(org, long));
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/^message 100 of the stream is over the quota \(100 pings per stream\);/);
    expect(meta(err, 'quota')).toEqual(['pings_per_stream']);

    await consumedSoFar();
    expect(published.has(long[100]!.eventId)).toBe(false);
  });
});

describe('configuration', () => {
  it('defaults: attendee tokens 20 pings/s, a reserve of 2,000 and 10,000 per stream; organizer tokens 100,000/s, 100,000 and 1,000,000', () => {
    const config = ingestConfigSchema.parse({ DATABASE_URL: 'postgresql://x/y', KAFKA_BROKERS: 'k:9092', AUTH_JWKS_FILE: '/dev/null' });
    expect(config).toMatchObject({
      INGEST_PINGS_PER_SECOND: 20,
      INGEST_PING_BURST: 2_000,
      INGEST_MAX_PINGS_PER_STREAM: 10_000,
      INGEST_ORGANIZER_PINGS_PER_SECOND: 100_000,
      INGEST_ORGANIZER_PING_BURST: 100_000,
      INGEST_ORGANIZER_MAX_PINGS_PER_STREAM: 1_000_000,
    });
    expect(() =>
      ingestConfigSchema.parse({ DATABASE_URL: 'postgresql://x/y', KAFKA_BROKERS: 'k:9092', AUTH_JWKS_FILE: '/dev/null', INGEST_PING_BURST: '-1' }),
    ).toThrow();
  });
});
