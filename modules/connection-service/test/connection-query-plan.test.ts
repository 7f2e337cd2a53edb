/**
 * The query the service runs uses the indexes (docs/contract.md §6): on a venue-sized dataset, EXPLAIN of
 * exactly the statement buildConnectionQuery returns shows the person's own pings read through
 * the (person_id, creation_time) btree and every other ping found by probing the GiST index on
 * coordinate once per own ping — never a scan of the whole location table — and, location being
 * partitioned by day (migration 0009), only the partitions its time range meets. The plans are the
 * service's: generic ones (plan_cache_mode in CONNECTION_SESSION_SETTINGS) of the statement
 * prepared once, with the partitions outside the range pruned when the plan starts.
 */
import type { Knex } from 'knex';
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { buildConnectionQuery, CONNECTION_SESSION_SETTINGS, findConnections, withCancellableConnection, type ConnectionQuery } from '../src/connection-query';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';
import { explainPrepared } from '../../../test/support/explain-prepared';

let testDb: TestDatabase;
let db: Database;
let knex: Knex;

beforeAll(async () => {
  testDb = await createTestDatabase('connplan');
  // As connection-service's pool: its session settings on the connection. The statement timeout
  // is for the 200,000-row load below (tens of seconds while the other test files run), not a query.
  db = createDatabase({
    url: testDb.url,
    logger: createLogger('test', 'silent'),
    poolMax: 1,
    sessionSettings: CONNECTION_SESSION_SETTINGS,
    statementTimeoutMs: 120_000,
  });
  knex = db.knex;
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT setseed(0.42)');
    await trx.raw(`INSERT INTO person (id, first_name, last_name, company_name)
                   SELECT g, 'P' || g, 'L' || g, 'C' FROM generate_series(100, 599) g`);
    // 500 people × 400 pings = 200,000: each hour at one of 100 booths of a 500 m × 500 m venue
    // (±20 m around the booth), a ping about every 15 minutes for four days.
    await trx.raw(`
      INSERT INTO location (person_id, coordinate, creation_time, event_id)
      SELECT p,
             ST_SetSRID(ST_MakePoint(-122.2905 + ((b % 10) * 50 + (random() - 0.5) * 40) / 88000.0,
                                     37.5534 + ((b / 10) * 50 + (random() - 0.5) * 40) / 111000.0), 4326)::geography,
             timestamptz '2021-03-01 08:00Z' + make_interval(mins => i * 15) + random() * interval '10 minutes',
             gen_random_uuid()
        FROM generate_series(100, 599) p, generate_series(0, 399) i,
             LATERAL (SELECT (p * 7 + i / 4) % 100 AS b) booth`);
  });
  await knex.raw('ANALYZE location');
  await knex.raw('ANALYZE person');
}, 180_000);

afterAll(async () => {
  await db.close();
  await testDb.drop();
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}
const nodesOf = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodesOf)];
const INDEX_NODES = ['Index Scan', 'Index Only Scan', 'Bitmap Index Scan'];

/**
 * The plan's nodes, each index named as declared on location: a plan names a partition's own index
 * (location_legacy_person_time_idx, location_p20270101_coordinate_creation_time_idx, …), which is
 * that partition's copy of one of the parent's.
 */
async function explain(q: ConnectionQuery): Promise<PlanNode[]> {
  const { sql, bindings } = buildConnectionQuery(q);
  // The generic plan, as the service's prepared statement runs it.
  const rows = await explainPrepared<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(knex, 'FORMAT JSON', sql, bindings);
  const { rows: parents } = await knex.raw<{ rows: Array<{ index: string; parent: string }> }>(
    `SELECT c.relname AS index, p.relname AS parent
       FROM pg_index x JOIN pg_inherits i ON i.inhparent = x.indexrelid
       JOIN pg_class p ON p.oid = x.indexrelid JOIN pg_class c ON c.oid = i.inhrelid
      WHERE x.indrelid = 'location'::regclass`,
  );
  const parentOf = new Map(parents.map((r) => [r.index, r.parent]));
  return nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan).map((n) => (n['Index Name'] ? { ...n, 'Index Name': parentOf.get(n['Index Name']) ?? n['Index Name'] } : n));
}

/** location's partitions a plan reads, sorted. */
async function partitionsRead(q: ConnectionQuery): Promise<string[]> {
  const { rows } = await knex.raw<{ rows: Array<{ name: string }> }>(
    `SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'location'::regclass`,
  );
  const partitions = new Set(rows.map((r) => r.name));
  const read = (await explain(q)).map((n) => n['Relation Name']).filter((name): name is string => name !== undefined && partitions.has(name));
  return [...new Set(read)].sort();
}

const base: ConnectionQuery = {
  personId: 123,
  start: new Date('2021-03-01T00:00:00Z'),
  end: new Date('2021-03-06T00:00:00Z'),
  distanceMeters: 5,
  groupByPerson: false,
};

const cases: Array<[string, ConnectionQuery]> = [
  ['the default query (5 m, the whole conference)', base],
  ['one day', { ...base, start: new Date('2021-03-02T00:00:00Z'), end: new Date('2021-03-03T00:00:00Z') }],
  ['a 30 minute time window', { ...base, timeWindowMinutes: 30 }],
  ['30 m with a 15 minute window', { ...base, distanceMeters: 30, timeWindowMinutes: 15 }],
  ['group_by=person', { ...base, groupByPerson: true }],
  ['with the closest own location', { ...base, withClosest: true }],
];

it('the dataset is what the plans below were shaped on', async () => {
  const { rows } = await knex.raw<{ rows: Array<{ n: number; own: number }> }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE person_id = 123)::int AS own FROM location`,
  );
  expect(rows[0]).toEqual({ n: 200_039, own: 400 }); // 200,000 + the 39 seeded pings
});

it.each(cases)('%s: own pings by the (person_id, creation_time) btree, the others by the GiST index', async (_what, q) => {
  const nodes = await explain(q);
  const gist = nodes.filter((n) => INDEX_NODES.includes(n['Node Type']) && n['Index Name'] === 'location_coordinate_time_gist');
  expect(gist.length).toBeGreaterThan(0);
  // Probed with each own ping's coordinate and the date range in one index condition (a
  // parameterised nested-loop inner side), and no other index of location: the time range needs
  // no index of its own (migration 0004 dropped the creation_time btree, which no plan used).
  const conds = gist.map((n) => n['Index Cond'] ?? '');
  expect(conds).toContainEqual(expect.stringMatching(/^\(\(coordinate && _st_expand\(m\.coordinate, .*creation_time >= .*creation_time < /));
  if (q.timeWindowMinutes !== undefined) expect(conds).toContainEqual(expect.stringMatching(/creation_time >= \(m\.creation_time - /));
  const locationIndexes = nodes.map((n) => n['Index Name']).filter((name) => name?.startsWith('location_'));
  expect([...new Set(locationIndexes)].sort()).toEqual(['location_coordinate_time_gist', 'location_person_time_idx']);
  expect(nodes.some((n) => INDEX_NODES.includes(n['Node Type']) && n['Index Name'] === 'location_person_time_idx')).toBe(true);
  expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name']?.startsWith('location'))).toEqual([]);
});

it('reads only the partitions its time range meets', async () => {
  // The dataset is of 2021, in the legacy partition (the old table): nothing else is read, not
  // even the default partition.
  expect(await partitionsRead(base)).toEqual(['location_legacy']);
  // Three days made ahead, 1,000 pings each (the same venue, persons 100–599, person 123 among them).
  const { rows: days } = await knex.raw<{ rows: Array<{ day: string }> }>(
    `SELECT d::date::text AS day FROM generate_series((now() AT TIME ZONE 'UTC')::date + 40, (now() AT TIME ZONE 'UTC')::date + 42, interval '1 day') d`,
  );
  const [first, second, third] = days.map((d) => d.day) as [string, string, string];
  const { rows: made } = await knex.raw<{ rows: Array<{ partition_name: string }> }>(`SELECT partition_name FROM location_ensure_partitions(?::date, 3)`, [
    first,
  ]);
  const partition = made.map((m) => m.partition_name);
  expect(partition).toEqual([first, second, third].map((d) => `location_p${d.replace(/-/g, '')}`));
  await knex.raw(
    `
    INSERT INTO location (person_id, coordinate, creation_time, event_id)
    SELECT 100 + g % 500, ST_SetSRID(ST_MakePoint(-122.2905 + (g % 37) * 0.00005, 37.5534 + (g % 41) * 0.00005), 4326)::geography,
           ?::date::timestamp AT TIME ZONE 'UTC' + g * interval '86.4 seconds', gen_random_uuid()
      FROM generate_series(0, 2999) g`,
    [first],
  );
  await knex.raw('ANALYZE location');

  const at = (day: string, hour = 0) => new Date(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);
  const oneDay = { ...base, start: at(second), end: at(third) };
  expect(await partitionsRead(oneDay)).toEqual([partition[1]]);
  expect(await partitionsRead({ ...base, start: at(first, 12), end: at(second, 12), timeWindowMinutes: 30 })).toEqual([partition[0], partition[1]]);
  // Still the same indexes of each partition read.
  const nodes = await explain(oneDay);
  expect([...new Set(nodes.map((n) => n['Index Name']).filter((name) => name?.startsWith('location_')))].sort()).toEqual([
    'location_coordinate_time_gist',
    'location_person_time_idx',
  ]);
});

it('the service plans its statements once per connection: prepared, with a generic plan', async () => {
  const oneDay = { ...base, start: new Date('2021-03-02T00:00:00Z'), end: new Date('2021-03-03T00:00:00Z') };
  const run = () => withCancellableConnection(knex, undefined, (db) => findConnections(db, oneDay));
  const first = await run();
  expect(first.kind === 'connections' && first.connections.length).toBeGreaterThan(0);
  expect(await run()).toEqual(first);
  // The pool has one connection: the statement prepared by the two calls above is on it.
  const { rows } = await knex.raw<{ rows: Array<{ generic_plans: number; custom_plans: number }> }>(
    `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'uc\\_%' AND statement LIKE '%WITH own AS MATERIALIZED%'`,
  );
  expect(rows).toEqual([{ generic_plans: 2, custom_plans: 0 }]);
});
