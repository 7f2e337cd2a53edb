/** /metrics speaks the Prometheus text format (0.0.4) that a scraper parses. */
import { INSERT_SECONDS_BUCKETS, METRICS_CONTENT_TYPE, WriterMetrics } from '../src/metrics';

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf|-Inf|NaN)$/;

function parse(text: string) {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n').slice(0, -1)) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') types.set(comment[2]!, comment[3]!);
      else helps.add(comment[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(line.split(' ').pop()));
  }
  return { types, helps, samples };
}

test('every metric has HELP and TYPE, every line parses, and the text ends with a newline', () => {
  const m = new WriterMetrics();
  Object.assign(m, { messages: 12, rowsInserted: 9, duplicates: 2, deadLettered: 1, batches: 3, dbRetries: 4, lastBatchSize: 5 });
  const text = m.render();
  expect(text.endsWith('\n')).toBe(true);
  const { types, helps, samples } = parse(text);
  expect(Object.fromEntries(types)).toEqual({
    location_writer_messages_total: 'counter',
    location_writer_rows_inserted_total: 'counter',
    location_writer_duplicates_total: 'counter',
    location_writer_dlq_total: 'counter',
    location_writer_batches_total: 'counter',
    location_writer_db_retries_total: 'counter',
    location_writer_last_batch_size: 'gauge',
    location_writer_database_up: 'gauge',
    location_writer_insert_duration_seconds: 'histogram',
  });
  expect([...helps].sort()).toEqual([...types.keys()].sort());
  expect(samples.get('location_writer_messages_total')).toBe(12);
  expect(samples.get('location_writer_rows_inserted_total')).toBe(9);
  expect(samples.get('location_writer_duplicates_total')).toBe(2);
  expect(samples.get('location_writer_dlq_total')).toBe(1);
  expect(samples.get('location_writer_batches_total')).toBe(3);
  expect(samples.get('location_writer_db_retries_total')).toBe(4);
  expect(samples.get('location_writer_last_batch_size')).toBe(5);
  expect(samples.get('location_writer_database_up')).toBe(1);
  expect(METRICS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
});

test('the insert-latency histogram has cumulative buckets ending in +Inf = count', () => {
  const m = new WriterMetrics();
  for (const s of [0.001, 0.02, 0.02, 0.3, 42]) m.observeInsert(s);
  const { samples } = parse(m.render());
  const bucket = (le: string) => samples.get(`location_writer_insert_duration_seconds_bucket{le="${le}"}`);
  expect(bucket('0.005')).toBe(1);
  expect(bucket('0.025')).toBe(3);
  expect(bucket('0.5')).toBe(4);
  expect(bucket('10')).toBe(4);
  expect(bucket('+Inf')).toBe(5);
  const counts = INSERT_SECONDS_BUCKETS.map((le) => bucket(String(le))!);
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  expect(samples.get('location_writer_insert_duration_seconds_count')).toBe(5);
  expect(samples.get('location_writer_insert_duration_seconds_sum')).toBeCloseTo(42.341, 6);
});
