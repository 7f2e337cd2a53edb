/**
 * Presence (src/presence.ts) against the real PostgreSQL, as the writer's own role: a scripted day
 * through Kafka and the writer gives exactly its visits and attendance, and replaying it changes
 * nothing; then the worker called directly: gaps split visits, late pings are folded in, erased
 * persons leave nothing, new events and changed venues are caught up, old events stay as they
 * were, the lock, the metrics and a database that goes away.
 */
import { toMessage, type LocationPing, DEFAULT_PRESENCE_RULES } from '@udaconnect/domain';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { createDatabase, createMetricsRegistry, isDatabaseUnavailable, withOneConnection } from '@udaconnect/common';
import { eventually } from '../../../test/support/eventually';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { testKnex } from '../../../test/support/test-database';
import { serviceDatabaseUrl } from '../../../test/support/test-env';
import { EventWindows, WindowSet } from '../src/event-windows';
import { insertPings } from '../src/location-store';
import { PresenceMetrics } from '../src/metrics';
import { markEventDirty, PRESENCE_LOCK_KEY, presenceWorkerState, recomputePresence, startPresence, type PresenceSettings } from '../src/presence';
import { createWriterTestBed, httpGet, testLogger, type WriterTestBed } from './harness';

let bed: WriterTestBed;
/** The writer's role on the test database. */
let writerKnex: Knex;
let eventId: number;
const placeIds: Record<string, number> = {};
const sessionIds: Record<string, number> = {};

const DAY = '2024-06-01';
const SETTINGS: PresenceSettings = { rules: DEFAULT_PRESENCE_RULES, personsPerRun: 2_000, retentionDays: 0 };
const COVER = DEFAULT_PRESENCE_RULES.maxCoverMs;

/** [longitude, latitude] inside each place, and in the corridor (in none). */
const AT = { A: [10.00005, 50.00005], B: [10.00035, 50.00005], R: [10.00125, 50.00025], corridor: [10.0007, 50.0002] } as const;

const square = (lon0: number, lat0: number, lon1: number, lat1: number) =>
  `SRID=4326;POLYGON((${lon0} ${lat0}, ${lon1} ${lat0}, ${lon1} ${lat1}, ${lon0} ${lat1}, ${lon0} ${lat0}))`;

async function createEvent(name: string, day: string): Promise<number> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>(`INSERT INTO event (name, starts_at, ends_at) VALUES (?, ?, ?) RETURNING id`, [
    name,
    `${day}T08:00:00Z`,
    `${day}T18:00:00Z`,
  ]);
  return rows[0]!.id;
}

async function addPlace(event: number, name: string, area: string, kind = 'booth'): Promise<number> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>(`INSERT INTO place (event_id, name, kind, area) VALUES (?, ?, ?, ?) RETURNING id`, [
    event,
    name,
    kind,
    area,
  ]);
  return rows[0]!.id;
}

beforeAll(async () => {
  bed = await createWriterTestBed('presence');
  writerKnex = testKnex(serviceDatabaseUrl('location-writer', bed.testDb.url), 3);
  eventId = await createEvent('Presence Conf', DAY);
  placeIds.A = await addPlace(eventId, 'Booth A', square(10.0, 50.0, 10.0001, 50.0001));
  placeIds.B = await addPlace(eventId, 'Booth B', square(10.0003, 50.0, 10.0004, 50.0001));
  placeIds.R = await addPlace(eventId, 'Room R', square(10.001, 50.0, 10.0015, 50.0005), 'room');
  for (const [title, from, to] of [
    ['Talk 1', '10:00', '11:00'],
    ['Talk 2', '11:00', '12:00'],
  ] as const) {
    const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>(
      `INSERT INTO session (event_id, place_id, title, starts_at, ends_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
      [eventId, placeIds.R, title, `${DAY}T${from}:00Z`, `${DAY}T${to}:00Z`],
    );
    sessionIds[title] = rows[0]!.id;
  }
});
afterAll(async () => {
  await writerKnex?.destroy();
  await bed?.close();
});
beforeEach(async () => {
  await bed.knex.raw(`DELETE FROM location WHERE creation_time >= '2024-01-01'`);
  await bed.knex.raw('DELETE FROM visit; DELETE FROM attendance; DELETE FROM presence_dirty');
});

/** Pings of `personId` at `where`, from `from` to `to` (HH:MM:SS on DAY, both included) every `stepS` seconds. */
function every(personId: number, from: string, to: string, stepS: number, where: readonly [number, number], day = DAY): LocationPing[] {
  const out: LocationPing[] = [];
  for (let t = Date.parse(`${day}T${from}Z`); t <= Date.parse(`${day}T${to}Z`); t += stepS * 1000) {
    out.push({ eventId: randomUUID(), personId, longitude: where[0], latitude: where[1], recordedAt: new Date(t) });
  }
  return out;
}

/**
 * The scripted day: 3 minutes in booth A (a visit), 90 s in booth B (none), 40 of Talk 1's 60
 * minutes in room R (attended), 20 of Talk 2's (not), the corridor in between.
 */
function scriptedDay(personId: number): LocationPing[] {
  return [
    ...every(personId, '09:00:00', '09:03:00', 30, AT.A),
    ...every(personId, '09:05:00', '09:06:30', 30, AT.B),
    ...every(personId, '10:00:00', '10:39:00', 60, AT.R),
    ...every(personId, '10:40:00', '10:59:00', 60, AT.corridor),
    ...every(personId, '11:00:00', '11:19:00', 60, AT.R),
    ...every(personId, '11:20:00', '11:59:00', 60, AT.corridor),
  ];
}

const t = (hhmmss: string, day = DAY) => `${day}T${hhmmss}.000Z`;

const SCRIPTED_VISITS = [
  { place: 'Booth A', first_seen: t('09:00:00'), last_seen: t('09:03:00') },
  { place: 'Room R', first_seen: t('10:00:00'), last_seen: t('10:39:00') },
  { place: 'Room R', first_seen: t('11:00:00'), last_seen: t('11:19:00') },
];
const SCRIPTED_ATTENDANCE = [{ session: 'Talk 1', seconds_inside: 2400 }];

async function visits(personId: number): Promise<Array<{ place: string; first_seen: string; last_seen: string }>> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ place: string; first_seen: Date; last_seen: Date }> }>(
    `SELECT p.name AS place, v.first_seen, v.last_seen FROM visit v JOIN place p ON p.id = v.place_id AND p.event_id = v.event_id
      WHERE v.person_id = ? ORDER BY v.first_seen`,
    [personId],
  );
  return rows.map((r) => ({ place: r.place, first_seen: r.first_seen.toISOString(), last_seen: r.last_seen.toISOString() }));
}

async function attendance(personId: number): Promise<Array<{ session: string; seconds_inside: number }>> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ session: string; seconds_inside: number }> }>(
    `SELECT s.title AS session, a.seconds_inside FROM attendance a JOIN session s ON s.id = a.session_id AND s.event_id = a.event_id
      WHERE a.person_id = ? ORDER BY s.starts_at`,
    [personId],
  );
  return rows;
}

/** The stored rows with their xmin: a row rewritten with the same values has a new one. */
async function storedRows(): Promise<unknown[]> {
  const { rows } = await bed.knex.raw(
    `SELECT 'visit' AS t, xmin::text, person_id, place_id AS id, first_seen, last_seen, NULL::float8 AS seconds_inside FROM visit
     UNION ALL SELECT 'attendance', xmin::text, person_id, session_id, NULL, NULL, seconds_inside FROM attendance ORDER BY 1, 3, 4, 5`,
  );
  return rows as unknown[];
}

async function marks(): Promise<number> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM presence_dirty');
  return rows[0]!.n;
}

/** Stores pings as the writer's batch does, with the event windows as the writer caches them. */
async function store(pings: readonly LocationPing[]) {
  return insertPings(writerKnex, pings, await new EventWindows(writerKnex, COVER).current());
}

const run = (state = presenceWorkerState(), settings = SETTINGS) => recomputePresence(writerKnex, settings, state);

test('through Kafka and the writer: the scripted day gives exactly its visits and attendance; a replay changes no row', async () => {
  const writer = await bed.startWriter();
  try {
    const day = scriptedDay(5);
    await eventually(async () => expect((await httpGet(writer.port, '/readyz')).status).toBe(200), 30_000);
    await bed.producer.send(bed.topic, day.map(toMessage));
    await eventually(async () => expect(await visits(5)).toEqual(SCRIPTED_VISITS), 30_000);
    await eventually(async () => expect(await marks()).toBe(0));
    expect(await attendance(5)).toEqual(SCRIPTED_ATTENDANCE);
    const before = await storedRows();
    const metrics = (await httpGet(writer.port, '/metrics')).body;
    expect(metrics).toMatch(/^location_writer_presence_persons_total\{service="location-writer"\} [1-9]/m);
    expect(metrics).toMatch(/^location_writer_presence_runs_total\{outcome="completed",service="location-writer"\} [1-9]/m);
    expect(metrics).toMatch(/^location_writer_presence_run_duration_seconds_count\{service="location-writer"\} [1-9]/m);
    expect(metrics).toMatch(/^location_writer_presence_queue_age_seconds\{service="location-writer"\} /m);

    // The same messages again: every one a duplicate, each still marks (a crash may have come between insert and recomputation).
    const duplicates = (await writer.metrics.values()).duplicates;
    await bed.producer.send(bed.topic, day.map(toMessage));
    await eventually(async () => expect((await writer.metrics.values()).duplicates - duplicates).toBe(day.length), 30_000);
    const marksDone = (body: string) => Number(/^location_writer_presence_marks_total\{[^}]*\} (\d+)/m.exec(body)?.[1]);
    const marksBefore = marksDone(metrics);
    await eventually(async () => {
      expect(await marks()).toBe(0);
      expect(marksDone((await httpGet(writer.port, '/metrics')).body)).toBeGreaterThan(marksBefore);
    });
    // Recomputed, and nothing rewritten: the same rows with the same xmin.
    expect(await storedRows()).toEqual(before);
  } finally {
    await writer.stop();
  }
});

test('the batch marks each person once with the first and last of their pings inside an event window, replays too; pings outside every window are not marked', async () => {
  const inside = every(6, '09:00:00', '09:02:00', 30, AT.A);
  const outside = every(6, '19:00:00', '19:01:00', 30, AT.A); // after the event's end
  const early = every(8, '07:56:00', '07:56:00', 30, AT.A); // within the 5-minute cover before its start
  expect(await store([...inside, ...outside, ...early])).toEqual({ inserted: 9, duplicates: 0, conflicts: [] });
  expect(await store(inside)).toEqual({ inserted: 0, duplicates: 5, conflicts: [] });
  expect(await store(outside)).toEqual({ inserted: 0, duplicates: 3, conflicts: [] });
  const { rows } = await bed.knex.raw(`SELECT person_id, since, until FROM presence_dirty ORDER BY id`);
  expect(rows).toEqual([
    { person_id: 6, since: new Date(t('09:00:00')), until: new Date(t('09:02:00')) },
    { person_id: 8, since: new Date(t('07:56:00')), until: new Date(t('07:56:00')) },
    { person_id: 6, since: new Date(t('09:00:00')), until: new Date(t('09:02:00')) },
  ]);
});

test('the event windows: [start - 5 min, end], both ends included, overlapping ones merged; reloaded once older than 10 s, one query for concurrent callers', async () => {
  let now = 0;
  const windows = new EventWindows(writerKnex, COVER, 10_000, () => now);
  const [first, second] = await Promise.all([windows.current(), windows.current()]);
  expect(second).toBe(first);
  const ms = (hhmmss: string, day = DAY) => Date.parse(`${day}T${hhmmss}Z`);
  expect([ms('07:54:59.999'), ms('07:55:00'), ms('12:00:00'), ms('18:00:00'), ms('18:00:00.001')].map((at) => first.contains(at))).toEqual([
    false,
    true,
    true,
    true,
    false,
  ]);
  const day = '2024-07-01';
  const event = await createEvent('Windows', day);
  now = 9_999;
  expect((await windows.current()).contains(ms('12:00:00', day))).toBe(false);
  now = 10_000;
  expect((await windows.current()).contains(ms('12:00:00', day))).toBe(true);
  await bed.knex.raw('DELETE FROM event WHERE id = ?', [event]);

  const merged = new WindowSet([
    { start: 10, end: 20 },
    { start: 30, end: 40 },
    { start: 15, end: 32 },
    { start: 100, end: 100 },
  ]);
  expect([9, 10, 25, 40, 41, 99, 100, 101].map((at) => merged.contains(at))).toEqual([false, true, true, true, false, false, true, false]);
  expect(new WindowSet([]).empty).toBe(true);
});

test('the worker: a gap over 5 minutes splits a visit; a late ping in the gap joins them; the same pings again change nothing', async () => {
  await store([...every(6, '13:00:00', '13:03:00', 30, AT.A), ...every(6, '13:09:00', '13:12:00', 30, AT.A)]);
  expect(await run()).toMatchObject({ locked: true, marks: 1, persons: 1, pairs: 1, visits: 2, attendance: 0, rowsDeleted: 0, rowsInserted: 2 });
  expect(await visits(6)).toEqual([
    { place: 'Booth A', first_seen: t('13:00:00'), last_seen: t('13:03:00') },
    { place: 'Booth A', first_seen: t('13:09:00'), last_seen: t('13:12:00') },
  ]);

  // Sent late: one ping at 13:06, inside; the gaps are 3 minutes now.
  await store(every(6, '13:06:00', '13:06:00', 30, AT.A));
  expect(await run()).toMatchObject({ marks: 1, persons: 1, visits: 1, rowsDeleted: 2, rowsInserted: 1 });
  expect(await visits(6)).toEqual([{ place: 'Booth A', first_seen: t('13:00:00'), last_seen: t('13:12:00') }]);

  // Another late one, in the corridor at 13:07: a ping outside does not end a visit (GPS noise); the pings inside are still 3 minutes apart.
  await store(every(6, '13:07:00', '13:07:00', 30, AT.corridor));
  expect(await run()).toMatchObject({ visits: 1, rowsDeleted: 0, rowsInserted: 0 });
  expect(await visits(6)).toEqual([{ place: 'Booth A', first_seen: t('13:00:00'), last_seen: t('13:12:00') }]);
  const before = await storedRows();
  expect(await run()).toMatchObject({ marks: 0, persons: 0 });
  await store(every(6, '13:07:00', '13:07:00', 30, AT.corridor)); // new event ids, same time and place: a re-sent ping
  expect(await run()).toMatchObject({ marks: 1, persons: 1, visits: 1, rowsDeleted: 0, rowsInserted: 0 });
  expect(await visits(6)).toEqual([{ place: 'Booth A', first_seen: t('13:00:00'), last_seen: t('13:12:00') }]);
  expect(await marks()).toBe(0);
  expect(await storedRows()).toEqual(before);
});

test('the worker: the scripted day for several persons at once, in groups; each gets exactly its own rows', async () => {
  for (const person of [1, 5, 6, 8, 9]) await store(scriptedDay(person));
  // Person 9 leaves Talk 1 ten minutes early: still attended (30 of 60 minutes), by the rule's "at least half".
  await bed.knex.raw(`DELETE FROM location WHERE person_id = 9 AND creation_time >= ? AND creation_time < ?`, [t('10:30:00'), t('10:40:00')]);
  await store(every(9, '10:30:00', '10:39:00', 60, AT.corridor));
  // Two persons per transaction: three groups.
  const result = await run(undefined, { ...SETTINGS, personsPerTransaction: 2 });
  expect(result).toMatchObject({ locked: true, marks: 6, persons: 5, erased: 0, pairs: 5, visits: 15, attendance: 5, rowsInserted: 20 });
  for (const person of [1, 5, 6, 8]) {
    expect(await visits(person)).toEqual(SCRIPTED_VISITS);
    expect(await attendance(person)).toEqual(SCRIPTED_ATTENDANCE);
  }
  expect(await visits(9)).toEqual([SCRIPTED_VISITS[0], { place: 'Room R', first_seen: t('10:00:00'), last_seen: t('10:29:00') }, SCRIPTED_VISITS[2]]);
  expect(await attendance(9)).toEqual([{ session: 'Talk 1', seconds_inside: 1800 }]);
});

test('the worker takes at most PRESENCE_PERSONS_PER_RUN persons a run, oldest marks first; the rest wait for the next run', async () => {
  for (const person of [1, 5, 6]) await store(every(person, '09:00:00', '09:03:00', 30, AT.A));
  expect(await run(undefined, { ...SETTINGS, personsPerRun: 2 })).toMatchObject({ persons: 2, marks: 2 });
  expect(await visits(6)).toEqual([]);
  expect(await marks()).toBe(1);
  expect(await run(undefined, { ...SETTINGS, personsPerRun: 2 })).toMatchObject({ persons: 1, marks: 1 });
  expect(await visits(6)).toHaveLength(1);
});

test('an erased person: their marks are dropped, nothing is stored, and what was stored went with them', async () => {
  const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO person (first_name, last_name, company_name) VALUES ('Erin', 'Erased', 'Gone'), ('Eve', 'Erased', 'Gone') RETURNING id`,
  );
  const [first, second] = rows.map((r) => r.id) as [number, number];
  await store([...scriptedDay(first), ...scriptedDay(second)]);
  expect(await run()).toMatchObject({ persons: 2 });
  expect(await visits(first)).toEqual(SCRIPTED_VISITS);
  // As DELETE /api/persons/{id} does: locations, the person, the erased id.
  const erase = async (id: number) => {
    await bed.knex.raw('DELETE FROM location WHERE person_id = ?', [id]);
    await bed.knex.raw('DELETE FROM person WHERE id = ?', [id]);
    await bed.knex.raw('INSERT INTO erased_person (person_id) VALUES (?)', [id]);
  };
  await erase(first);
  expect(await visits(first)).toEqual([]);
  expect(await attendance(first)).toEqual([]);

  // Marked, then erased before any run: the run drops the marks and stores nothing.
  await store(every(second, '14:00:00', '14:03:00', 30, AT.B));
  await bed.knex.raw(`INSERT INTO presence_dirty (person_id, since, until) VALUES (?, ?, ?)`, [first, t('14:00:00'), t('14:03:00')]);
  await erase(second);
  expect(await marks()).toBe(2);
  expect(await run()).toMatchObject({ marks: 2, persons: 0, erased: 2, visits: 0 });
  expect(await marks()).toBe(0);
  const { rows: left } = await bed.knex.raw('SELECT count(*)::int AS n FROM visit WHERE person_id = ANY(?::int[])', [[first, second]]);
  expect(left).toEqual([{ n: 0 }]);
});

test('an event created after its pings were stored is caught up: a run marks everyone in its window once every writer knows it', async () => {
  const otherDay = '2024-06-08';
  await store(every(9, '09:00:00', '09:04:00', 30, AT.A, otherDay));
  expect(await marks()).toBe(0); // no event that day yet
  const state = presenceWorkerState(0);
  await run(state); // the first run only learns the events there are
  const event = await createEvent('Second week', otherDay);
  await addPlace(event, 'Booth A', square(10.0, 50.0, 10.0001, 50.0001));
  // This run sees the event and marks everyone in its window (no delay here); the next one computes.
  expect(await run(state)).toMatchObject({ locked: true, persons: 0 });
  expect(await marks()).toBe(1);
  expect(await run(state)).toMatchObject({ persons: 1, visits: 1 });
  expect(await visits(9)).toEqual([{ place: 'Booth A', first_seen: t('09:00:00', otherDay), last_seen: t('09:04:00', otherDay) }]);

  // A place added later: markEventDirty (what person-api calls after a venue change) brings it in.
  await addPlace(event, 'Booth A twin', square(10.0, 50.0, 10.0001, 50.0001));
  expect(await markEventDirty(writerKnex, [event], COVER)).toBe(1);
  expect(await run(state)).toMatchObject({ persons: 1, visits: 2 });
  expect((await visits(9)).map((v) => v.place).sort()).toEqual(['Booth A', 'Booth A twin']);
});

test('the mark of a new event waits until every writer’s event-window cache knows it (the delay), so no ping stored meanwhile is missed', async () => {
  const thirdDay = '2024-06-15';
  await store(every(5, '10:00:00', '10:03:00', 30, AT.A, thirdDay));
  const state = presenceWorkerState(1_000);
  await run(state);
  const event = await createEvent('Third week', thirdDay);
  await addPlace(event, 'Booth A', square(10.0, 50.0, 10.0001, 50.0001));
  await run(state);
  expect(await marks()).toBe(0); // seen, not yet due
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await run(state);
  expect(await marks()).toBe(1);
  expect(await run(state)).toMatchObject({ persons: 1, visits: 1 });
});

test('events whose window starts before the retention cutoff are left as they are; their marks are dropped', async () => {
  await store(scriptedDay(8));
  expect(await run()).toMatchObject({ persons: 1 });
  const before = await storedRows();
  await store(every(8, '09:03:30', '09:03:30', 30, AT.A)); // would lengthen the visit
  // RETENTION_DAYS=30: the event (2024) is older; some of its pings may already be gone.
  expect(await run(undefined, { ...SETTINGS, retentionDays: 30 })).toMatchObject({ marks: 1, persons: 0, pairs: 0 });
  expect(await marks()).toBe(0);
  expect(await storedRows()).toEqual(before);
});

test('one replica at a time: a run skips while another holds the lock, and still reports the queue’s age', async () => {
  await store(every(5, '09:00:00', '09:03:00', 30, AT.A));
  await bed.knex.raw(`UPDATE presence_dirty SET marked_at = now() - interval '42 seconds'`);
  await withOneConnection(bed.knex, async (other) => {
    await other.query('SELECT pg_advisory_lock(?::bigint)', [PRESENCE_LOCK_KEY]);
    try {
      const skipped = await run();
      expect(skipped).toMatchObject({ locked: false, marks: 0 });
      expect(skipped.queueAgeSeconds).toBeGreaterThanOrEqual(42);
      expect(skipped.queueAgeSeconds).toBeLessThan(60);
    } finally {
      await other.query('SELECT pg_advisory_unlock(?::bigint)', [PRESENCE_LOCK_KEY]);
    }
  });
  expect(await marks()).toBe(1);
  expect(await run()).toMatchObject({ locked: true, marks: 1, persons: 1 });
});

test('a run that cannot reach the database fails, is counted and logged; the marks stay and the next run does the work', async () => {
  const pg = new URL(bed.testDb.url);
  const proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  const viaProxy = new URL(serviceDatabaseUrl('location-writer', bed.testDb.url));
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const db = createDatabase({ url: viaProxy.toString(), logger: testLogger('presence-test-proxy'), poolMax: 1 });
  const registry = createMetricsRegistry('location-writer');
  const warnings: string[] = [];
  const logger = testLogger('presence-test');
  const recording = Object.assign(Object.create(logger) as typeof logger, {
    child: () => recording,
    warn: (_obj: unknown, msg?: string) => void warnings.push(String(msg)),
  });
  const presence = startPresence({ ...SETTINGS, knex: db.knex, metrics: new PresenceMetrics(registry), logger: recording, intervalMs: 3_600_000 });
  try {
    await store(scriptedDay(1));
    await proxy.cut();
    const failed = await presence.runOnce();
    expect(failed.outcome).toBe('failed');
    expect(failed.outcome === 'failed' && isDatabaseUnavailable(failed.error)).toBe(true);
    expect(warnings).toEqual(['presence run failed; its marks wait for the next run']);
    expect(await marks()).toBe(1);
    await proxy.restore();
    expect(await presence.runOnce()).toMatchObject({ outcome: 'completed', result: { persons: 1, marks: 1 } });
    expect(await visits(1)).toEqual(SCRIPTED_VISITS);
    const text = await registry.metrics();
    expect(text).toContain('location_writer_presence_runs_total{outcome="failed",service="location-writer"} 1');
    expect(text).toContain('location_writer_presence_runs_total{outcome="completed",service="location-writer"} 1');
    expect(text).toContain('location_writer_presence_persons_total{service="location-writer"} 1');
    expect(text).toContain('location_writer_presence_marks_total{service="location-writer"} 1');
  } finally {
    await presence.stop();
    await db.close();
    await proxy.close();
  }
});
