/** Device → gRPC ingest → Kafka → location-writer → PostGIS, and POST /api/locations, end to end. */
import { randomUUID } from 'node:crypto';
import type { LocationPing } from '@udaconnect/proto';
import { eventually } from '../support/eventually';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { bearer } from '../support/auth';

let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline('e2e');
});
afterAll(() => p.close());

const persons = [1, 5, 6, 8, 9];
const makePing = (i: number): LocationPing => ({
  eventId: randomUUID(),
  personId: persons[i % persons.length]!,
  // Distinct, non-symmetric coordinates so a swapped axis would show.
  latitude: 37.55 + i * 1e-6,
  longitude: -122.29 - i * 1e-6,
  recordedAt: new Date(Date.UTC(2026, 10, 20, 10, 0, 0, 0) + i * 1001 + (i % 1000)),
});

interface Row {
  event_id: string;
  person_id: number;
  x: number;
  y: number;
  creation_time: Date;
}
const rowsFor = async (ids: string[]): Promise<Row[]> =>
  p.knex
    .raw(
      `SELECT event_id::text, person_id, ST_X(coordinate::geometry) AS x, ST_Y(coordinate::geometry) AS y, creation_time
       FROM location WHERE event_id = ANY(?::uuid[])`,
      [ids],
    )
    .then((r) => r.rows);

function expectStored(rows: Row[], sent: LocationPing[]) {
  expect(rows).toHaveLength(sent.length);
  const byId = new Map(rows.map((r) => [r.event_id, r]));
  for (const s of sent) {
    const r = byId.get(s.eventId)!;
    expect(r).toBeDefined();
    expect(r.person_id).toBe(s.personId);
    expect(r.x).toBeCloseTo(s.longitude!, 9); // X = longitude
    expect(r.y).toBeCloseTo(s.latitude!, 9); // Y = latitude
    expect(r.creation_time.getTime()).toBe(s.recordedAt!.getTime()); // to the millisecond
  }
}

test('N pings through Record and RecordStream become exactly N rows, with their event ids, coordinates and times', async () => {
  const viaRecord = Array.from({ length: 50 }, (_, i) => makePing(i));
  const viaStream = Array.from({ length: 950 }, (_, i) => makePing(50 + i));
  for (const ping of viaRecord) expect(await p.record(ping)).toEqual({ eventId: ping.eventId });
  const summary = await p.recordStream(viaStream);
  expect(summary).toEqual({ accepted: 950, rejected: 0, rejections: [], rejectedByReason: {}, rejectionsTruncated: false });

  const all = [...viaRecord, ...viaStream];
  const ids = all.map((x) => x.eventId);
  await eventually(async () => expect(await rowsFor(ids)).toHaveLength(all.length), 30_000);
  expectStored(await rowsFor(ids), all);

  // The same event ids again: acknowledged (idempotent retries are fine), but no new rows.
  expect((await p.recordStream(viaStream)).accepted).toBe(950);
  for (const ping of viaRecord.slice(0, 10)) await p.record(ping);
  const marker = makePing(9999);
  await p.record(marker); // once the marker is stored, the replays before it have been processed
  await eventually(async () => expect(await rowsFor([marker.eventId])).toHaveLength(1), 30_000);
  const { rows } = await p.knex.raw('SELECT count(*)::int AS n FROM location WHERE event_id = ANY(?::uuid[])', [ids]);
  expect(rows[0].n).toBe(all.length);
});

test('a stream with bad pings in the middle stores exactly the good ones', async () => {
  const good = Array.from({ length: 100 }, (_, i) => makePing(20_000 + i));
  const bad = [
    { ...makePing(1), latitude: 91 },
    { ...makePing(2), personId: 31337 },
    { ...makePing(3), recordedAt: undefined },
  ];
  const summary = await p.recordStream([...good.slice(0, 40), bad[0]!, ...good.slice(40, 70), bad[1]!, bad[2]!, ...good.slice(70)]);
  expect(summary.accepted).toBe(100);
  expect(summary.rejections.map((r) => r.index)).toEqual([40, 71, 72]);
  await eventually(async () => expect(await rowsFor(good.map((g) => g.eventId))).toHaveLength(100), 30_000);
  const marker = makePing(20_500);
  await p.record(marker);
  await eventually(async () => expect(await rowsFor([marker.eventId])).toHaveLength(1), 30_000);
  expect(await rowsFor(bad.map((b) => b.eventId))).toEqual([]);
});

test('RecordBatch: one message of 2,000 pings becomes exactly 2,000 rows; bad pings are listed by their place in the batch; a re-sent batch adds none', async () => {
  const good = Array.from({ length: 2_000 }, (_, i) => makePing(30_000 + i));
  const bad = [
    { ...makePing(4), longitude: 181 },
    { ...makePing(5), personId: 31337 },
    { ...makePing(6), eventId: 'not-a-uuid' },
  ];
  const batch = [...good.slice(0, 500), bad[0]!, ...good.slice(500, 1_500), bad[1]!, ...good.slice(1_500), bad[2]!];
  const summary = await p.recordBatch(batch);
  expect(summary.accepted).toBe(2_000);
  expect(summary.rejected).toBe(3);
  expect(summary.rejections.map((r) => [r.index, r.reason.split(':')[0], r.retryable])).toEqual([
    [500, 'longitude', false],
    [1_501, 'person_id', false],
    [2_002, 'event_id', false],
  ]);
  expect(summary.rejectedByReason).toEqual({ invalid: 2, not_found: 1 });
  const ids = good.map((g) => g.eventId);
  await eventually(async () => expect(await rowsFor(ids)).toHaveLength(2_000), 30_000);
  expectStored(await rowsFor(ids), good);

  expect((await p.recordBatch(good.slice(0, 1_000))).accepted).toBe(1_000);
  const marker = makePing(39_999);
  await p.record(marker);
  await eventually(async () => expect(await rowsFor([marker.eventId])).toHaveLength(1), 30_000);
  expect(await rowsFor(ids)).toHaveLength(2_000);
  expect(await rowsFor(bad.slice(0, 2).map((b) => b.eventId))).toEqual([]);
  // An empty batch is a batch: nothing to store.
  expect(await p.recordBatch([])).toEqual({ accepted: 0, rejected: 0, rejections: [], rejectedByReason: {}, rejectionsTruncated: false });
});

test('POST /api/locations with the old body (string coordinates) ends up as a row', async () => {
  const res = await fetch(`${p.apiUrl}/api/locations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(p.auth.organizer) },
    body: JSON.stringify({ person_id: 8, latitude: '37.5533', longitude: '-122.2905', creation_time: '2020-08-18T10:37:06' }),
  });
  expect(res.status).toBe(202);
  const { event_id } = (await res.json()) as { event_id: string };
  const [row] = await eventually(async () => {
    const rows = await rowsFor([event_id]);
    expect(rows).toHaveLength(1);
    return rows;
  }, 30_000);
  expect(row).toMatchObject({ person_id: 8, x: -122.2905, y: 37.5533 });
  expect(row!.creation_time.toISOString()).toBe('2020-08-18T10:37:06.000Z');

  // And it reads back through the REST API in the old shape.
  const list = (await (
    await fetch(`${p.apiUrl}/api/persons/8/locations?start_date=2020-08-18&end_date=2020-08-18`, { headers: bearer(p.auth.organizer) })
  ).json()) as Array<Record<string, unknown>>;
  expect(list).toContainEqual(expect.objectContaining({ person_id: 8, latitude: '37.5533', longitude: '-122.2905', creation_time: '2020-08-18T10:37:06Z' }));
});
