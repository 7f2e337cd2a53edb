/** location-writer against the real broker and PostGIS: rows as sent, replays change nothing, poison goes to the DLQ. */
import { decodePing, LocationPing, toMessage } from '@udaconnect/domain';
import { eventually } from '../../../test/support/eventually';
import type { LocationWriter } from '../src/location-writer';
import { countStored, createWriterTestBed, httpGet, makePing, readTopic, type WriterTestBed } from './harness';

let bed: WriterTestBed;
let writer: LocationWriter;
beforeAll(async () => {
  bed = await createWriterTestBed('main');
  writer = await bed.startWriter();
});
afterAll(() => bed.close());

const N = 500;
const pings = Array.from({ length: N }, (_, i) => makePing(i));
const eventIds = pings.map((p) => p.eventId);

test('every ping produced to the topic becomes exactly one row: longitude as X, latitude as Y, time to the millisecond', async () => {
  await eventually(async () => expect((await httpGet(writer.port, '/readyz')).status).toBe(200));
  await bed.producer.send(bed.topic, pings.map(toMessage));

  await eventually(async () => expect(await countStored(bed.knex, eventIds)).toBe(N), 30_000);

  const { rows } = await bed.knex.raw<{
    rows: Array<{ event_id: string; person_id: number; x: number; y: number; t: string }>;
  }>(
    `SELECT event_id::text, person_id, ST_X(coordinate::geometry) AS x, ST_Y(coordinate::geometry) AS y,
            to_char(creation_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
       FROM location WHERE event_id = ANY(?::uuid[])`,
    [eventIds],
  );
  const byId = new Map(rows.map((r) => [r.event_id, r]));
  for (const p of pings) {
    const row = byId.get(p.eventId)!;
    expect(row).toBeDefined();
    expect(row.person_id).toBe(p.personId);
    expect(row.x).toBe(p.longitude);
    expect(row.y).toBe(p.latitude);
    // Microseconds printed: exactly the sent milliseconds, nothing rounded or added.
    expect(row.t).toBe(p.recordedAt!.toISOString().replace('Z', '000Z'));
  }
  expect(pings.filter((p) => p.recordedAt!.getUTCMilliseconds() !== 0).length).toBeGreaterThan(N * 0.9);
  // The counters move just after the commit that made the rows visible.
  await eventually(async () => expect(await writer.metrics.values()).toMatchObject({ rowsInserted: N, messages: N, duplicates: 0, deadLettered: 0 }));
});

test('producing the same event ids again adds no row and counts them as duplicates', async () => {
  const before = await writer.metrics.values();
  // A replay that differs in content is still the same event: the stored row wins.
  const replay = pings.map((p, i) => (i === 0 ? { ...p, latitude: 0, longitude: 0 } : p));
  await bed.producer.send(bed.topic, replay.map(toMessage));

  await eventually(async () => expect((await writer.metrics.values()).duplicates - before.duplicates).toBe(N), 30_000);
  const after = await writer.metrics.values();
  expect(after.rowsInserted).toBe(before.rowsInserted);
  expect(await countStored(bed.knex, eventIds)).toBe(N);
  const { rows } = await bed.knex.raw('SELECT ST_Y(coordinate::geometry) AS y FROM location WHERE event_id = ?', [pings[0]!.eventId]);
  expect(rows[0].y).toBe(pings[0]!.latitude);

  const metrics = await httpGet(writer.port, '/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(metrics.body).toContain(`location_writer_duplicates_total{service="location-writer"} ${after.duplicates}\n`);
  expect(metrics.body).toContain(`location_writer_rows_inserted_total{service="location-writer"} ${N}\n`);
});

test('poison messages go to the DLQ with headers saying why and where from; messages after them are still stored', async () => {
  const before = await writer.metrics.values();
  // Field 1 announces 127 bytes of event id, then the bytes stop: not a LocationPing.
  const garbage = Buffer.concat([Buffer.from([0x0a, 0x7f]), Buffer.from('truncated')]);
  expect(() => decodePing(garbage)).toThrow();
  const unknownPerson = makePing(0, { personId: 999_999 });
  const badLatitude = makePing(1, { personId: 5, latitude: 120 });
  const poison = [{ key: '1', value: garbage }, toMessage(unknownPerson), { key: '5', value: Buffer.from(LocationPing.encode(badLatitude).finish()) }];
  // Same keys as the poison, so the good pings sit behind it on the same partitions.
  const after = [makePing(0, { personId: 1 }), makePing(1, { personId: 5 }), makePing(2)];
  for (const m of poison) await bed.producer.send(bed.topic, [m]);
  await bed.producer.send(bed.topic, after.map(toMessage));

  await eventually(
    async () =>
      expect(
        await countStored(
          bed.knex,
          after.map((p) => p.eventId),
        ),
      ).toBe(after.length),
    30_000,
  );

  const dead = await readTopic(bed.bus, bed.dlqTopic, (seen) => seen.length >= poison.length);
  expect(dead).toHaveLength(poison.length);
  const originals = await readTopic(bed.bus, bed.topic, (seen) => poison.every((p) => seen.some((m) => m.value?.equals(p.value))));
  const expectedReasons = [/^undecodable: /, /^unknown person: person_id 999999 does not exist/, /^invalid: latitude: .*got 120/];
  poison.forEach((p, i) => {
    const d = dead.find((m) => m.value?.equals(p.value));
    expect(d).toBeDefined();
    const original = originals.find((m) => m.value?.equals(p.value))!;
    expect(d!.key).toBe(p.key);
    expect(d!.headers['dlq-reason']).toMatch(expectedReasons[i]!);
    expect(d!.headers['dlq-original-topic']).toBe(bed.topic);
    expect(d!.headers['dlq-original-partition']).toBe(String(original.partition));
    expect(d!.headers['dlq-original-offset']).toBe(original.offset);
    const failedAt = Date.parse(d!.headers['dlq-failed-at']!);
    expect(d!.headers['dlq-failed-at']).toBe(new Date(failedAt).toISOString());
    expect(Math.abs(Date.now() - failedAt)).toBeLessThan(60_000);
  });
  await eventually(async () => expect((await writer.metrics.values()).deadLettered - before.deadLettered).toBe(poison.length));
  expect(await countStored(bed.knex, [unknownPerson.eventId, badLatitude.eventId])).toBe(0);
  const body = (await httpGet(writer.port, '/metrics')).body;
  expect(body).toContain(`location_writer_dlq_total{service="location-writer"} ${poison.length}\n`);
});

test('/healthz is live, /readyz names what is up, unknown paths are problem+json 404s', async () => {
  expect(await httpGet(writer.port, '/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
  const ready = await httpGet(writer.port, '/readyz');
  expect(ready.status).toBe(200);
  expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: { consumer: true, database: true } });
  const missing = await httpGet(writer.port, '/nope');
  expect(missing.status).toBe(404);
  expect(missing.contentType).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(missing.body)).toMatchObject({ status: 404, title: 'Not Found' });
});
