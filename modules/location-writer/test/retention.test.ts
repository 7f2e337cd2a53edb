/**
 * Retention (src/retention.ts) against the real PostgreSQL, as the writer's own role: what is
 * deleted and kept, the advisory lock between runners, stopping, failures, metrics and the log
 * line, and a writer that runs it on its own.
 */
import { createDatabase, createMetricsRegistry, isDatabaseUnavailable, type Database, type Logger } from '@udaconnect/common';
import type { Registry } from 'prom-client';
import { serviceRole } from '../../../db/roles';
import { eventually } from '../../../test/support/eventually';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { serviceDatabaseUrl, serviceRoleUrl } from '../../../test/support/test-env';
import { startLocationWriter } from '../src/location-writer';
import { RetentionMetrics } from '../src/metrics';
import { deleteExpiredPings, RETENTION_LOCK_KEY, startRetention, type RetentionOptions } from '../src/retention';
import { createWriterTestBed, httpGet, testLogger, writerRoleDatabase, type WriterTestBed } from './harness';

let bed: WriterTestBed;
/** The writer's role on the test database. */
let writerDb: Database;

beforeAll(async () => {
  bed = await createWriterTestBed('retention');
  writerDb = writerRoleDatabase(bed, 'retention-test-db', 3);
});
afterAll(async () => {
  await writerDb?.close();
  await bed?.close();
});
// Each test starts from an empty table (the seed's 2020 pings would be old too).
beforeEach(async () => {
  await bed.knex.raw('DELETE FROM location');
});

/** `n` pings of person 5 whose creation_time is now() minus `age` (a PostgreSQL interval); their ids. */
async function insertAged(n: number, age: string): Promise<number[]> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT 5, 'SRID=4326;POINT(-122.29 37.55)', now() - ?::interval, gen_random_uuid() FROM generate_series(1, ?::int)
     RETURNING id`,
    [age, n],
  );
  return rows.map((r) => r.id);
}

async function storedIds(): Promise<number[]> {
  const { rows } = await bed.knex.raw<{ rows: Array<{ id: number }> }>('SELECT id FROM location ORDER BY id');
  return rows.map((r) => r.id);
}

/** Log lines of a logger (and its children), as { level, msg, ...fields }. */
function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const record = (level: string) => (obj: unknown, msg?: string) => {
    lines.push(typeof obj === 'string' ? { level, msg: obj } : { level, msg, ...(obj as object) });
  };
  const logger = { info: record('info'), warn: record('warn'), error: record('error'), debug: () => undefined, child: () => logger };
  return { logger: logger as unknown as Logger, lines };
}

/** The value of an unlabelled sample (besides the registry's service label) in /metrics' text. */
async function sample(registry: Registry, name: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function labelled(registry: Registry, name: string, label: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

function retentionOptions(overrides: Partial<RetentionOptions> & { registry: Registry; logger: Logger }): RetentionOptions {
  return {
    knex: writerDb.knex,
    metrics: new RetentionMetrics(overrides.registry),
    days: 30,
    batchRows: 10,
    intervalMs: 3_600_000,
    // Runs are started by the tests (runOnce), not by the timer.
    firstRunDelayMs: 3_600_000,
    ...overrides,
  };
}

test('the writer role deletes, in batches, the pings older than the cutoff the database computes, and keeps the newer ones', async () => {
  const { rows: who } = await writerDb.knex.raw<{ rows: Array<{ user: string }> }>('SELECT current_user AS user');
  if (serviceRoleUrl('location-writer')) expect(who[0]!.user).toBe(serviceRole('location-writer').role);
  await insertAged(25, '400 days');
  await insertAged(5, '30 days 1 hour');
  const kept = [...(await insertAged(4, '29 days 23 hours')), ...(await insertAged(6, '1 minute'))];
  const batches: number[] = [];
  const result = await deleteExpiredPings(writerDb.knex, { days: 30, batchRows: 10 }, { onBatch: (n) => void batches.push(n) });
  // Every row is in the legacy partition (the test database was migrated today): none to drop.
  expect(result).toEqual({ locked: true, deleted: 30, cutoff: expect.any(Date), stopped: false, droppedPartitions: [] });
  // Full batches until one deletes fewer than 10.
  expect(batches).toEqual([10, 10, 10, 0]);
  expect(await storedIds()).toEqual(kept.sort((a, b) => a - b));
  // The cutoff is the database's now() minus 30 days.
  const { rows } = await bed.knex.raw<{ rows: Array<{ seconds: number }> }>(
    `SELECT extract(epoch FROM now() - interval '30 days' - ?::timestamptz)::float8 AS seconds`,
    [result.locked ? result.cutoff : null],
  );
  expect(rows[0]!.seconds).toBeGreaterThanOrEqual(0);
  expect(rows[0]!.seconds).toBeLessThan(60);
});

test('a run counts its rows, its outcome and its end time in the metrics, and logs one line with deleted, cutoff and ms', async () => {
  await insertAged(12, '31 days');
  await insertAged(3, '2 days');
  const registry = createMetricsRegistry('location-writer');
  const { logger, lines } = recordingLogger();
  const retention = startRetention(retentionOptions({ registry, logger }));
  try {
    const before = Date.now() / 1000;
    const run = await retention.runOnce();
    expect(run).toEqual({ outcome: 'completed', deleted: 12, cutoff: expect.any(Date), ms: expect.any(Number), stopped: false, droppedPartitions: [] });
    expect(await sample(registry, 'location_writer_retention_deleted_total')).toBe(12);
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="completed"')).toBe(1);
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="skipped"')).toBe(0);
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="failed"')).toBe(0);
    expect(await sample(registry, 'location_writer_retention_run_duration_seconds_count')).toBe(1);
    expect(await sample(registry, 'location_writer_retention_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(Math.floor(before));
    const runLines = lines.filter((l) => l.msg === 'retention run');
    expect(runLines).toEqual([
      { level: 'info', msg: 'retention run', deleted: 12, cutoff: run.outcome === 'completed' ? run.cutoff.toISOString() : '', ms: expect.any(Number) },
    ]);
    expect((await storedIds()).length).toBe(3);
  } finally {
    await retention.stop();
  }
});

test('RETENTION_DAYS=0 keeps every ping: no run is scheduled and runOnce deletes nothing', async () => {
  await insertAged(5, '3000 days');
  const registry = createMetricsRegistry('location-writer');
  const { logger, lines } = recordingLogger();
  const retention = startRetention(retentionOptions({ registry, logger, days: 0, firstRunDelayMs: 0 }));
  expect(await retention.runOnce()).toEqual({ outcome: 'off' });
  await retention.stop();
  expect((await storedIds()).length).toBe(5);
  expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="completed"')).toBe(0);
  expect(lines.map((l) => l.msg)).toEqual(['retention off (RETENTION_DAYS=0): pings are kept forever']);
  // The deletion itself refuses 0 rather than delete everything older than now.
  await expect(deleteExpiredPings(writerDb.knex, { days: 0, batchRows: 10 })).rejects.toThrow(/days must be > 0/);
});

test('two runners at once: the second, started while the first holds the lock, skips and deletes nothing', async () => {
  await insertAged(30, '40 days');
  const other = writerRoleDatabase(bed, 'retention-test-other', 1);
  try {
    let second: Awaited<ReturnType<typeof deleteExpiredPings>> | undefined;
    // The second runner starts, and ends, between the first one's statements: both overlap for certain.
    const first = await deleteExpiredPings(
      writerDb.knex,
      { days: 30, batchRows: 10 },
      {
        onBatch: async () => {
          second ??= await deleteExpiredPings(other.knex, { days: 30, batchRows: 10 });
        },
      },
    );
    expect(first).toMatchObject({ locked: true, deleted: 30 });
    expect(second).toEqual({ locked: false });
    // The lock is released after a run: the other runner gets it now.
    await insertAged(4, '40 days');
    expect(await deleteExpiredPings(other.knex, { days: 30, batchRows: 10 })).toMatchObject({ locked: true, deleted: 4 });
  } finally {
    await other.close();
  }
});

test('while another session holds the lock a run is skipped (counted and logged), and the next run does the work', async () => {
  await insertAged(8, '45 days');
  const registry = createMetricsRegistry('location-writer');
  const { logger, lines } = recordingLogger();
  const retention = startRetention(retentionOptions({ registry, logger }));
  try {
    await bed.knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [RETENTION_LOCK_KEY]);
      expect(await retention.runOnce()).toEqual({ outcome: 'skipped', ms: expect.any(Number) });
    });
    expect((await storedIds()).length).toBe(8);
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="skipped"')).toBe(1);
    expect(lines.some((l) => l.msg === 'retention run skipped: another writer holds the lock')).toBe(true);
    expect(await retention.runOnce()).toMatchObject({ outcome: 'completed', deleted: 8 });
    expect(await storedIds()).toEqual([]);
  } finally {
    await retention.stop();
  }
});

test('stop() during a run ends it after the current statement (the rest waits for the next run)', async () => {
  await insertAged(50, '60 days');
  const registry = createMetricsRegistry('location-writer');
  const { logger } = recordingLogger();
  const retention = startRetention(retentionOptions({ registry, logger, batchRows: 5 }));
  const run = retention.runOnce();
  await retention.stop();
  expect(await run).toMatchObject({ outcome: 'completed', deleted: 5, stopped: true });
  expect((await storedIds()).length).toBe(45);
});

test('a run that cannot reach the database is logged as a warning and counted; the next run, with the database back, works', async () => {
  const pg = new URL(bed.testDb.url);
  const proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  const viaProxy = new URL(serviceDatabaseUrl('location-writer', bed.testDb.url));
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const db = createDatabase({ url: viaProxy.toString(), logger: testLogger('retention-test-proxy'), poolMax: 1 });
  const registry = createMetricsRegistry('location-writer');
  const { logger, lines } = recordingLogger();
  const retention = startRetention(retentionOptions({ registry, logger, knex: db.knex }));
  try {
    await insertAged(3, '31 days');
    await proxy.cut();
    const failed = await retention.runOnce();
    expect(failed).toMatchObject({ outcome: 'failed', deleted: 0 });
    expect(failed.outcome === 'failed' && isDatabaseUnavailable(failed.error)).toBe(true);
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="failed"')).toBe(1);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['retention run failed; retrying at the next interval']);
    await proxy.restore();
    expect(await retention.runOnce()).toMatchObject({ outcome: 'completed', deleted: 3 });
    expect(await labelled(registry, 'location_writer_retention_runs_total', 'outcome="completed"')).toBe(1);
  } finally {
    await retention.stop();
    await db.close();
    await proxy.close();
  }
});

test('location has a BRIN index on creation_time (migration 0005, on every partition since 0009), and the batch DELETE finds a backlog through it', async () => {
  const { rows: idx } = await bed.knex.raw<{ rows: Array<{ indexdef: string }> }>(
    `SELECT indexdef FROM pg_indexes WHERE indexname = 'location_creation_time_brin'`,
  );
  expect(idx.map((r) => r.indexdef)).toEqual(['CREATE INDEX location_creation_time_brin ON ONLY public.location USING brin (creation_time)']);
  // 20,000 pings of 500 persons over 60 days, in time order as they arrive; half are older than 30 days.
  await bed.knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT (ARRAY[1, 5, 6, 8, 9])[1 + g % 5], ST_SetSRID(ST_MakePoint(-122.29 + (g % 500) * 0.001, 37.55), 4326)::geography,
            now() - interval '60 days' + g * interval '60 days' / 20000, gen_random_uuid()
       FROM generate_series(1, 20000) g`,
  );
  await bed.knex.raw('ANALYZE location');
  // The statement deleteExpiredPings runs; the rows are in the legacy partition, whose BRIN is the
  // parent's (it was migration 0005's own, attached as the first partition's by 0009).
  const { rows: plan } = await writerDb.knex.raw<{ rows: Array<{ 'QUERY PLAN': string }> }>(
    `EXPLAIN DELETE FROM location
      WHERE creation_time < now() - interval '30 days'
        AND (id, creation_time) IN (SELECT id, creation_time FROM location WHERE creation_time < now() - interval '30 days' LIMIT 10000)`,
  );
  const scanned = [
    ...plan
      .map((r) => r['QUERY PLAN'])
      .join('\n')
      .matchAll(/Bitmap Index Scan on (\w+)/g),
  ].map((m) => m[1]);
  expect(scanned).toContain('location_legacy_creation_time_brin');
  const { rows: parents } = await bed.knex.raw<{ rows: Array<{ parent: string }> }>(
    `SELECT inhparent::regclass::text AS parent FROM pg_inherits WHERE inhrelid = 'location_legacy_creation_time_brin'::regclass`,
  );
  expect(parents).toEqual([{ parent: 'location_creation_time_brin' }]);
});

test('a running writer makes its first run after RETENTION_FIRST_RUN_DELAY_MS on its own; /metrics shows it', async () => {
  await insertAged(7, '90 days');
  const kept = await insertAged(2, '1 day');
  const writer = await startLocationWriter(
    { ...bed.config(), RETENTION_DAYS: 30, RETENTION_FIRST_RUN_DELAY_MS: 0, RETENTION_BATCH_ROWS: 3 },
    testLogger('retention-test-writer'),
  );
  try {
    const metric = (text: string, name: string) => Number(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[2]);
    const text = await eventually(async () => {
      const { body } = await httpGet(writer.port, '/metrics');
      expect(metric(body, 'location_writer_retention_run_duration_seconds_count')).toBe(1);
      return body;
    }, 30_000);
    expect(metric(text, 'location_writer_retention_deleted_total')).toBe(7);
    expect(metric(text, 'location_writer_retention_last_success_timestamp_seconds')).toBeGreaterThan(0);
    expect(await storedIds()).toEqual(kept);
    // In its consumer group before it stops (a writer stopped while still creating its topics leaves Kafka calls behind).
    await eventually(async () => expect(await writer.isReady()).toBe(true), 30_000);
  } finally {
    await writer.stop();
  }
});
