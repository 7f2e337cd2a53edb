/** The writer's metrics reach the registry /metrics renders, in the Prometheus text format (0.0.4) a scraper parses. */
import { createMetricsRegistry } from '@udaconnect/common';
import { WriterMetrics } from '../src/metrics';

// Values as Prometheus' parser reads them (Go's ParseFloat: Inf and NaN in any case; prom-client prints `Nan`).
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]?Inf|NaN)$/i;

function parse(text: string) {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') types.set(comment[2]!, comment[3]!);
      else helps.add(comment[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.set(`${m[1]}${(m[2] ?? '').replace(/,?service="location-writer"/, '').replace('{}', '')}`, Number(line.split(' ').pop()));
  }
  return { types, helps, samples };
}

test('every metric has HELP and TYPE, every line parses, and the values are what was counted', async () => {
  const registry = createMetricsRegistry('location-writer');
  const m = new WriterMetrics(registry);
  m.batchHandled({ size: 12, inserted: 9, duplicates: 2, deadLettered: 1, partition: 3, lag: 40 });
  m.databaseRetry();
  m.setDatabaseUp(false);
  expect(registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await registry.metrics();
  expect(text.endsWith('\n')).toBe(true);
  const { types, helps, samples } = parse(text);
  expect([...helps].sort()).toEqual([...types.keys()].sort());
  const writerTypes = Object.fromEntries([...types].filter(([name]) => name.startsWith('location_writer_')));
  expect(writerTypes).toEqual({
    location_writer_messages_total: 'counter',
    location_writer_rows_inserted_total: 'counter',
    location_writer_duplicates_total: 'counter',
    location_writer_dlq_total: 'counter',
    location_writer_event_id_reused_total: 'counter',
    location_writer_erased_dropped_total: 'counter',
    location_writer_batches_total: 'counter',
    location_writer_db_retries_total: 'counter',
    location_writer_database_up: 'gauge',
    location_writer_consumer_lag: 'gauge',
    location_writer_batch_size: 'histogram',
    location_writer_insert_duration_seconds: 'histogram',
  });
  expect(samples.get('location_writer_messages_total')).toBe(12);
  expect(samples.get('location_writer_rows_inserted_total')).toBe(9);
  expect(samples.get('location_writer_duplicates_total')).toBe(2);
  expect(samples.get('location_writer_dlq_total')).toBe(1);
  expect(samples.get('location_writer_batches_total')).toBe(1);
  expect(samples.get('location_writer_db_retries_total')).toBe(1);
  expect(samples.get('location_writer_database_up')).toBe(0);
  expect(samples.get('location_writer_consumer_lag{partition="3"}')).toBe(40);
  expect(samples.get('location_writer_batch_size_count')).toBe(1);
  // The process metrics come with every registry.
  expect(types.get('process_resident_memory_bytes')).toBe('gauge');
  expect(types.get('nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
});

test('the insert-latency histogram has cumulative buckets ending in +Inf = count', async () => {
  const registry = createMetricsRegistry('location-writer');
  const m = new WriterMetrics(registry);
  for (const s of [0.001, 0.02, 0.02, 0.3, 42]) m.observeInsert(s);
  const { samples } = parse(await registry.metrics());
  const bucket = (le: string) => samples.get(`location_writer_insert_duration_seconds_bucket{le="${le}"}`);
  expect(bucket('0.005')).toBe(1);
  expect(bucket('0.025')).toBe(3);
  expect(bucket('0.5')).toBe(4);
  expect(bucket('10')).toBe(4);
  expect(bucket('+Inf')).toBe(5);
  expect(samples.get('location_writer_insert_duration_seconds_count')).toBe(5);
  expect(samples.get('location_writer_insert_duration_seconds_sum')).toBeCloseTo(42.341, 6);
});
