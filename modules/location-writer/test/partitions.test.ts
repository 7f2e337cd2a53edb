/**
 * The day partitions of location (migration 0009) against the real PostgreSQL, as the writer's own
 * role: made ahead at start and once per day by concurrent callers, the default partition's rows
 * moved to their day, the idempotent insert exact wherever a ping's row is, and retention dropping
 * whole days before it deletes the rest row by row.
 */
import { createMetricsRegistry, type Database, type Logger } from '@udaconnect/common';
import type { LocationPing } from '@udaconnect/domain';
import { eventually } from '../../../test/support/eventually';
import { insertPings } from '../src/location-store';
import { RetentionMetrics } from '../src/metrics';
import { ensurePartitions } from '../src/partitions';
import { startRetention } from '../src/retention';
import { createWriterTestBed, makePing, writerRoleDatabase, type WriterTestBed } from './harness';

let bed: WriterTestBed;
/** The writer's role on the test database, two connections. */
let writerDb: Database;

beforeAll(async () => {
  bed = await createWriterTestBed('partitions');
  writerDb = writerRoleDatabase(bed, 'partitions-test-db', 2);
});
afterAll(async () => {
  await writerDb?.close();
  await bed?.close();
});

/** The UTC date `days` after today's, by the database's clock, as YYYY-MM-DD. */
async function utcDay(days: number): Promise<string> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ day: string }> }>(`SELECT ((now() AT TIME ZONE 'UTC')::date + ?::int)::text AS day`, [days]);
  return rows[0]!.day;
}

const partitionOf = (day: string) => `location_p${day.replace(/-/g, '')}`;

/** The partitions of location (not the default) in order, with their UTC bounds. */
async function partitions(): Promise<Array<{ partition: string; from: string; to: string }>> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ partition: string; from: string; to: string }> }>(
    `SELECT partition::text AS partition,
            CASE WHEN from_time = '-infinity' THEN '-infinity' ELSE (from_time AT TIME ZONE 'UTC')::date::text END AS "from",
            (to_time AT TIME ZONE 'UTC')::date::text AS "to"
       FROM location_partitions() ORDER BY from_time`,
  );
  return rows;
}

/** Where each of these event ids' rows is: {eventId: partition}. */
async function placeOf(pings: LocationPing[]): Promise<Record<string, string>> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ event_id: string; partition: string }> }>(
    `SELECT event_id::text, tableoid::regclass::text AS partition FROM location WHERE event_id = ANY(?::uuid[])`,
    [pings.map((p) => p.eventId)],
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, r.partition]));
}

/** A ping at `hour`:`minute` UTC of `day` (YYYY-MM-DD). */
const pingOn = (i: number, day: string, hour: number, minute = 0) =>
  makePing(i, { recordedAt: new Date(`${day}T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.123Z`) });

test('a starting writer makes the partitions of today and LOCATION_PARTITION_DAYS_AHEAD days after before it consumes; today is still the legacy partition’s', async () => {
  const writer = await bed.startWriter();
  try {
    await eventually(async () => expect(await writer.isReady()).toBe(true), 30_000);
    const days = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(utcDay));
    // The test database was migrated today: the legacy partition reaches to tomorrow's midnight.
    expect(await partitions()).toEqual([
      { partition: 'location_legacy', from: '-infinity', to: days[0] },
      ...days.slice(0, 7).map((day, i) => ({ partition: partitionOf(day), from: day, to: days[i + 1] })),
    ]);
    // Each day once: the next run finds them made.
    expect(await writer.partitions.runOnce()).toEqual({ outcome: 'completed', made: [], ms: expect.any(Number) });
  } finally {
    await writer.stop();
  }
});

test('two callers at once make each day once: one makes them all, the other then finds nothing to make', async () => {
  const from = await utcDay(100);
  const ensure = () =>
    writerDb.knex.raw<{ rows: Array<{ partition_name: string }> }>(`SELECT partition_name FROM location_ensure_partitions(?::date, 5)`, [from]);
  // Both wait on the functions' advisory lock, held here, so they run at the same moment once it goes.
  const { both } = await bed.knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(4207315003)');
    const both = Promise.all([ensure(), ensure()]);
    await eventually(async () => {
      const { rows } = await trx.raw(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4207315003 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rows[0].n).toBe(2);
    });
    // Committed (the lock released) once the callback returns: not a promise, or it would be awaited first.
    return { both };
  });
  const [a, b] = await both;
  const made = [a.rows, b.rows].map((rows) => rows.map((r) => r.partition_name));
  const expected = await Promise.all([100, 101, 102, 103, 104].map(async (d) => partitionOf(await utcDay(d))));
  expect(made.sort((x, y) => x.length - y.length)).toEqual([[], expected]);
  expect((await ensure()).rows).toEqual([]);
});

test('a ping of a day without a partition waits in the default partition and moves to its day’s when that is made; a replay is a duplicate wherever its row is', async () => {
  const day = await utcDay(30);
  const next = await utcDay(31);
  const pings = [pingOn(0, day, 0), pingOn(1, day, 23, 59), pingOn(2, next, 0)];
  const k = writerDb.knex;
  expect(await insertPings(k, pings)).toEqual({ inserted: 3, duplicates: 0, conflicts: [] });
  expect(await placeOf(pings)).toEqual(Object.fromEntries(pings.map((p) => [p.eventId, 'location_default'])));
  expect(await insertPings(k, pings)).toEqual({ inserted: 0, duplicates: 3, conflicts: [] });
  const { rows: ids } = await bed.knex.raw('SELECT id, event_id::text FROM location WHERE event_id = ANY(?::uuid[]) ORDER BY id', [
    pings.map((p) => p.eventId),
  ]);

  const { rows: made } = await k.raw(`SELECT partition_name, moved_rows FROM location_ensure_partitions(?::date, 1)`, [day]);
  expect(made).toEqual([{ partition_name: partitionOf(day), moved_rows: 2 }]);
  expect(await placeOf(pings)).toEqual({
    [pings[0]!.eventId]: partitionOf(day),
    [pings[1]!.eventId]: partitionOf(day),
    [pings[2]!.eventId]: 'location_default',
  });
  const { rows: idsAfter } = await bed.knex.raw('SELECT id, event_id::text FROM location WHERE event_id = ANY(?::uuid[]) ORDER BY id', [
    pings.map((p) => p.eventId),
  ]);
  expect(idsAfter).toEqual(ids);
  // The key follows the row: still a duplicate, and another person's ping with the same key still a conflict.
  expect(await insertPings(k, pings)).toEqual({ inserted: 0, duplicates: 3, conflicts: [] });
  const stolen = [
    { ...pings[0]!, personId: 8 },
    { ...pings[2]!, personId: 8 },
  ];
  expect(await insertPings(k, stolen)).toEqual({ inserted: 0, duplicates: 0, conflicts: stolen });
});

test('the partition functions refuse what retention and the upkeep never ask: dropping days not yet past, a count of days out of range', async () => {
  const k = writerDb.knex;
  await expect(k.raw(`SELECT * FROM location_drop_partitions_before(now() + interval '1 minute')`)).rejects.toMatchObject({ code: '22023' });
  await expect(k.raw(`SELECT * FROM location_ensure_partitions(current_date, 0)`)).rejects.toMatchObject({ code: '22023' });
  await expect(k.raw(`SELECT * FROM location_ensure_partitions(current_date, 367)`)).rejects.toMatchObject({ code: '22023' });
});

/** Log lines of a logger (and its children), as { level, msg, ...fields }. */
function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const record = (level: string) => (obj: unknown, msg?: string) => {
    lines.push(typeof obj === 'string' ? { level, msg: obj } : { level, msg, ...(obj as object) });
  };
  const logger = { info: record('info'), warn: record('warn'), error: record('error'), debug: () => undefined, child: () => logger };
  return { logger: logger as unknown as Logger, lines };
}

// Last: it drops partitions, the legacy one first.
test('retention drops the days older than the cutoff whole, counting their rows, then deletes the older rows of the day that straddles it and of the default partition', async () => {
  // As in a database weeks after the migration, once retention has dropped the legacy partition:
  // day partitions from 40 days ago (rows older than the first go to the default partition).
  await bed.knex.raw('DELETE FROM location');
  await bed.knex.raw('ALTER TABLE location DETACH PARTITION location_legacy');
  await bed.knex.raw('DROP TABLE location_legacy');
  // Today is no longer the legacy partition's: the upkeep makes its day.
  expect(await ensurePartitions(writerDb.knex, 7)).toEqual([{ partition: partitionOf(await utcDay(0)), moved: 0 }]);
  await writerDb.knex.raw(`SELECT location_ensure_partitions((now() AT TIME ZONE 'UTC')::date - 40, 41)`);
  // One ping an hour from 45 days ago to now, and one a week ahead.
  await bed.knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT 5, 'SRID=4326;POINT(-122.29 37.55)', t, gen_random_uuid()
       FROM generate_series(now() - interval '45 days', now() + interval '7 days', interval '1 hour') t`,
  );
  const { rows: before } = await bed.knex.raw<{ rows: Array<{ id: number; creation_time: Date; partition: string }> }>(
    'SELECT id, creation_time, tableoid::regclass::text AS partition FROM location ORDER BY id',
  );
  expect(before.some((r) => r.partition === 'location_default')).toBe(true);

  const registry = createMetricsRegistry('location-writer');
  const { logger, lines } = recordingLogger();
  const retention = startRetention({
    knex: writerDb.knex,
    metrics: new RetentionMetrics(registry),
    logger,
    days: 30,
    batchRows: 10,
    intervalMs: 3_600_000,
    firstRunDelayMs: 3_600_000,
  });
  try {
    const run = await retention.runOnce();
    if (run.outcome !== 'completed') throw new Error(`retention run ${run.outcome}`);
    // The days wholly before the cutoff (40 to 31 days ago), each with its 24 rows.
    const dropped = await Promise.all(Array.from({ length: 10 }, (_, i) => utcDay(i - 40).then(partitionOf)));
    expect(run.droppedPartitions).toEqual(dropped);
    const older = before.filter((r) => r.creation_time < run.cutoff);
    const kept = before.filter((r) => r.creation_time >= run.cutoff);
    expect(run.deleted).toBe(older.length);
    // Row by row: the default partition's old rows and those of the day the cutoff falls in.
    const byRow = older.filter((r) => !dropped.includes(r.partition));
    expect(new Set(byRow.map((r) => r.partition))).toEqual(new Set(['location_default', partitionOf(await utcDay(-30))]));
    expect(run.deleted - byRow.length).toBe(10 * 24);
    const { rows: after } = await bed.knex.raw<{ rows: Array<{ id: number }> }>('SELECT id FROM location ORDER BY id');
    expect(after.map((r) => r.id)).toEqual(kept.map((r) => r.id));
    expect((await partitions())[0]).toEqual({ partition: partitionOf(await utcDay(-30)), from: await utcDay(-30), to: await utcDay(-29) });
    // Metrics and the log line count the dropped rows as deleted, and name the partitions.
    const deletedTotal = (await registry.metrics()).split('\n').find((l) => l.startsWith('location_writer_retention_deleted_total'));
    expect(Number(deletedTotal?.split(' ').pop())).toBe(older.length);
    expect(lines.filter((l) => l.msg === 'retention run')).toEqual([
      { level: 'info', msg: 'retention run', deleted: older.length, cutoff: run.cutoff.toISOString(), ms: expect.any(Number), droppedPartitions: dropped },
    ]);
    // Nothing left to drop: the next run deletes nothing.
    expect(await retention.runOnce()).toMatchObject({ outcome: 'completed', deleted: 0, droppedPartitions: [] });
  } finally {
    await retention.stop();
  }
});
