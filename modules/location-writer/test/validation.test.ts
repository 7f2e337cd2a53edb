/**
 * The writer against the real broker and PostGIS, for messages written straight to Kafka: it applies
 * ingest's own checkPing (the 5-minute future rule, required coordinates, Timestamp nanos), and an
 * event id already stored with the same time for another person is dead-lettered with a reason and
 * counted, never dropped silently (docs/decisions.md, "The writer applies the 5-minute future rule, against
 * its own clock" and "Event ids reused by another person: dead-lettered by the writer"). The same event id at
 * another time is a ping of its own (the key is (event_id, creation_time) since migration 0009).
 */
import { LocationPing, Timestamp } from '@udaconnect/proto';
import { toMessage } from '@udaconnect/domain';
import type { IncomingMessage } from '@udaconnect/common';
import { eventually } from '../../../test/support/eventually';
import type { LocationWriter } from '../src/location-writer';
import { countStored, createWriterTestBed, httpGet, makePing, readTopic, type WriterTestBed } from './harness';

let bed: WriterTestBed;
let writer: LocationWriter;
beforeAll(async () => {
  bed = await createWriterTestBed('validation');
  writer = await bed.startWriter();
  await eventually(async () => expect((await httpGet(writer.port, '/readyz')).status).toBe(200));
});
afterAll(() => bed.close());

/** The ping's bytes with recorded_at replaced by a raw Timestamp (any nanos). */
function withRawTime(ping: LocationPing, seconds: number, nanos: number): Buffer {
  const base = LocationPing.encode({ ...ping, recordedAt: undefined }).finish();
  const ts = Timestamp.encode({ seconds, nanos }).finish();
  return Buffer.concat([base, Buffer.from([(5 << 3) | 2, ts.length]), ts]);
}

const dlqReasons = async (eventIds: string[]): Promise<Map<string, string>> => {
  const wanted = new Set(eventIds);
  const found = new Map<string, string>();
  const idOf = (m: IncomingMessage) => {
    try {
      return LocationPing.decode(m.value!).eventId;
    } catch {
      return '';
    }
  };
  await readTopic(bed.bus, bed.dlqTopic, (messages) => {
    for (const m of messages) if (wanted.has(idOf(m))) found.set(idOf(m), m.headers['dlq-reason'] ?? '');
    return found.size === wanted.size;
  });
  return found;
};

test('an event id already stored at the same time for another person is dead-lettered with a reason and counted; a same-person replay is a duplicate', async () => {
  const before = await writer.metrics.values();
  const original = makePing(0, { personId: 5 });
  await bed.producer.send(bed.topic, [toMessage(original)]);
  await eventually(async () => expect(await countStored(bed.knex, [original.eventId])).toBe(1), 30_000);

  // Another person's ping with the same event id and time, alone and (a second id) twice in one batch.
  const thief = { ...makePing(1, { personId: 6 }), eventId: original.eventId, recordedAt: original.recordedAt };
  const inBatch = makePing(2, { personId: 8 });
  const inBatchThief = { ...makePing(3, { personId: 9 }), eventId: inBatch.eventId, recordedAt: inBatch.recordedAt };
  const replay = { ...original };
  await bed.producer.send(bed.topic, [toMessage(thief)]);
  // Same key, so both sit in one partition and (very likely) one batch.
  await bed.producer.send(bed.topic, [toMessage(inBatch), { ...toMessage(inBatchThief), key: String(inBatch.personId) }, toMessage(replay)]);

  await eventually(async () => expect((await writer.metrics.values()).eventIdReused - before.eventIdReused).toBe(2), 30_000);
  const after = await writer.metrics.values();
  expect(after.duplicates - before.duplicates).toBe(1);
  const { rows } = await bed.knex.raw<{ rows: Array<{ event_id: string; person_id: number }> }>(
    'SELECT event_id::text, person_id FROM location WHERE event_id = ANY(?::uuid[]) ORDER BY person_id',
    [[original.eventId, inBatch.eventId]],
  );
  expect(rows).toEqual([
    { event_id: original.eventId, person_id: 5 },
    { event_id: inBatch.eventId, person_id: 8 },
  ]);

  const dlq = await readTopic(bed.bus, bed.dlqTopic, (ms) => ms.filter((m) => /^event_id reused/.test(m.headers['dlq-reason'] ?? '')).length >= 2);
  const reused = dlq.filter((m) => /^event_id reused/.test(m.headers['dlq-reason'] ?? '')).map((m) => LocationPing.decode(m.value!));
  expect(reused.map((p) => p.personId).sort()).toEqual([6, 9]);
  const metrics = await httpGet(writer.port, '/metrics');
  expect(metrics.body).toContain(`location_writer_event_id_reused_total{service="location-writer"} ${after.eventIdReused}\n`);
});

test('messages written straight to Kafka get ingest’s checks: the future rule, required coordinates, nanos; an old replay still passes', async () => {
  const future = makePing(0, { recordedAt: new Date('2100-01-01T00:00:00Z') });
  const noLatitude = makePing(1, { latitude: undefined });
  const noLongitude = makePing(2, { longitude: undefined });
  const badNanos = makePing(3);
  const negativeNanos = makePing(4);
  const before1970 = makePing(0, { recordedAt: new Date('1969-07-20T20:17:40Z') });
  const oldReplay = makePing(1, { recordedAt: new Date('2019-01-01T00:00:00Z') });
  const atTheEquator = makePing(2, { latitude: 0, longitude: 0 });
  const seconds = Math.floor(Date.UTC(2020, 7, 18) / 1000);
  await bed.producer.send(bed.topic, [
    toMessage(future),
    toMessage(noLatitude),
    toMessage(noLongitude),
    { key: String(badNanos.personId), value: withRawTime(badNanos, seconds, 1_000_000_000) },
    { key: String(negativeNanos.personId), value: withRawTime(negativeNanos, seconds, -1) },
    toMessage(before1970),
    toMessage(oldReplay),
    toMessage(atTheEquator),
  ]);

  const reasons = await dlqReasons([future, noLatitude, noLongitude, badNanos, negativeNanos, before1970].map((p) => p.eventId));
  expect(reasons.get(future.eventId)).toMatch(/^invalid: recorded_at: is \d+ s in the future/);
  expect(reasons.get(noLatitude.eventId)).toMatch(/^invalid: latitude: is required/);
  expect(reasons.get(noLongitude.eventId)).toMatch(/^invalid: longitude: is required/);
  expect(reasons.get(badNanos.eventId)).toMatch(/^invalid: recorded_at: nanos must be in 0\.\.999,999,999, got 1000000000/);
  expect(reasons.get(negativeNanos.eventId)).toMatch(/^invalid: recorded_at: nanos must be in 0\.\.999,999,999, got -1/);
  expect(reasons.get(before1970.eventId)).toMatch(/^invalid: recorded_at: must be after 1970-01-01T00:00:00Z, got 1969-07-20T20:17:40\.000Z/);
  await eventually(async () => expect(await countStored(bed.knex, [oldReplay.eventId, atTheEquator.eventId])).toBe(2), 30_000);
  expect(await countStored(bed.knex, [future.eventId, noLatitude.eventId, noLongitude.eventId, badNanos.eventId, negativeNanos.eventId])).toBe(0);
});

test('an event id reused at another time is stored as a row of its own, for the same person or another: the key does not see it (docs/decisions.md)', async () => {
  const before = await writer.metrics.values();
  const original = makePing(4, { personId: 5 });
  await bed.producer.send(bed.topic, [toMessage(original)]);
  await eventually(async () => expect(await countStored(bed.knex, [original.eventId])).toBe(1), 30_000);
  // A device that gives two pings one id, and another person's ping with it an hour later; then a
  // replay of all three, which is still a duplicate each.
  const sameLater = { ...makePing(5, { personId: 5 }), eventId: original.eventId, recordedAt: new Date(original.recordedAt!.getTime() + 1_000) };
  const otherLater = { ...makePing(6, { personId: 6 }), eventId: original.eventId, recordedAt: new Date(original.recordedAt!.getTime() + 3_600_000) };
  await bed.producer.send(bed.topic, [toMessage(sameLater), toMessage(otherLater)]);
  await eventually(async () => expect(await countStored(bed.knex, [original.eventId])).toBe(3), 30_000);
  await bed.producer.send(bed.topic, [original, sameLater, otherLater].map(toMessage));
  await eventually(async () => expect((await writer.metrics.values()).duplicates - before.duplicates).toBe(3), 30_000);
  const after = await writer.metrics.values();
  expect({ inserted: after.rowsInserted - before.rowsInserted, reused: after.eventIdReused - before.eventIdReused }).toEqual({ inserted: 3, reused: 0 });
  const { rows } = await bed.knex.raw<{ rows: Array<{ person_id: number; creation_time: Date }> }>(
    'SELECT person_id, creation_time FROM location WHERE event_id = ? ORDER BY creation_time',
    [original.eventId],
  );
  expect(rows).toEqual([original, sameLater, otherLater].map((p) => ({ person_id: p.personId, creation_time: p.recordedAt })));
});
