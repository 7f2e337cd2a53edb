/**
 * The fast timestamptz parser returns exactly what node-postgres's own parser (postgres-date)
 * returns: on generated text of every shape the server prints, and on what a real server prints
 * in several time zones.
 */
import postgresDate from 'postgres-date';
import { createDatabase, type Database } from '../src/db';
import { createLogger } from '../src/logger';
import { parseIsoTimestamptz, timestamptzParser } from '../src/pg-timestamptz';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';

const parse = timestamptzParser(postgresDate);
const time = (v: unknown) => (v instanceof Date ? v.getTime() : v);

/** A small deterministic generator, so a failure names a reproducible case. */
function rng(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (s * 48_271) % 2_147_483_647;
    return s % n;
  };
}
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Text as PostgreSQL prints it with DateStyle ISO: fraction without trailing zeros, offset ±HH[:MM[:SS]]. */
function pgText(r: (n: number) => number): string {
  const micros = r(1_000_000);
  const fraction = micros === 0 ? '' : `.${pad(micros, 6)}`.replace(/0+$/, '');
  const offsetShape = r(4);
  const sign = r(2) ? '+' : '-';
  const offset =
    offsetShape === 0
      ? '+00'
      : offsetShape === 1
        ? `${sign}${pad(r(15), 2)}`
        : offsetShape === 2
          ? `${sign}${pad(r(15), 2)}:${pad(r(60), 2)}`
          : `${sign}${pad(r(15), 2)}:${pad(r(60), 2)}:${pad(r(60), 2)}`;
  return `${pad(1000 + r(9000), 4)}-${pad(1 + r(12), 2)}-${pad(1 + r(28), 2)} ${pad(r(24), 2)}:${pad(r(60), 2)}:${pad(r(60), 2)}${fraction}${offset}`;
}

test('agrees with postgres-date on 20,000 generated timestamps of every shape', () => {
  const r = rng(42);
  const texts = Array.from({ length: 20_000 }, () => pgText(r));
  const disagreements = texts.filter((text) => parseIsoTimestamptz(text) !== (postgresDate(text) as Date).getTime());
  expect(disagreements).toEqual([]);
  expect(new Set(texts.map((t) => t.slice(19).replace(/\d/g, '9'))).size).toBeGreaterThan(20); // many fraction and offset shapes
});

test.each([
  ['2025-11-13 12:34:56+00', Date.UTC(2025, 10, 13, 12, 34, 56)],
  ['2025-11-13 12:34:56.1+00', Date.UTC(2025, 10, 13, 12, 34, 56, 100)],
  ['2025-11-13 12:34:56.123999+00', Date.UTC(2025, 10, 13, 12, 34, 56, 123)],
  ['2020-01-01 05:30:00+05:30', Date.UTC(2020, 0, 1, 0, 0, 0)],
  ['2020-01-01 00:00:00-03', Date.UTC(2020, 0, 1, 3, 0, 0)],
  ['1883-11-18 12:03:58-07:52:58', Date.UTC(1883, 10, 18, 19, 56, 56)],
])('%s', (text, expected) => {
  expect(parseIsoTimestamptz(text)).toBe(expected);
  expect(time(parse(text))).toBe(expected);
});

test.each([
  'infinity',
  '-infinity',
  '0099-01-01 00:00:00+00',
  '2020-01-01 00:00:00+00 BC',
  'Wed Jan 01 00:00:00 2020 UTC',
  '2020-01-01T00:00:00Z',
  '2020-01-01 00:00:00',
])('leaves %s to the usual parser, with its result', (text) => {
  expect(parseIsoTimestamptz(text)).toBeUndefined();
  expect(time(parse(text))).toEqual(time(postgresDate(text)));
});

describe('against a real server', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase('timestamptz');
    db = createDatabase({ url: testDb.url, logger: createLogger('test', 'silent'), poolMax: 1 });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  test.each(['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'America/Los_Angeles'])(
    'TimeZone %s: each Date equals the server’s epoch milliseconds',
    async (zone) => {
      const rows = await db.knex.transaction(async (trx) => {
        await trx.raw(`SET LOCAL TimeZone = '${zone}'`);
        const { rows } = await trx.raw<{ rows: Array<{ t: Date; ms: string; text: string }> }>(
          `SELECT t, t::text AS text, (extract(epoch FROM t) * 1000)::numeric(20, 0)::text AS ms
             FROM (SELECT timestamptz '1900-01-01 00:00:00+00' + (g * interval '37 days 1 hour 1 minute 1.234567 second') AS t
                     FROM generate_series(0, 1200) g) x`,
        );
        return rows;
      });
      expect(rows).toHaveLength(1201);
      // The server rounds the microseconds to the nearest millisecond; a Date truncates.
      expect(rows.filter((row) => Math.abs(row.t.getTime() - Number(row.ms)) > 1)).toEqual([]);
      expect(rows.filter((row) => row.t.getTime() !== (postgresDate(row.text) as Date).getTime())).toEqual([]);
    },
  );
});
