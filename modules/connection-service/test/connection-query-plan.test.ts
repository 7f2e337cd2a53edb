/**
 * The query the service runs uses the indexes (docs/contract.md §6): on a venue-sized dataset, EXPLAIN of
 * exactly the statement buildConnectionQuery returns shows the person's own pings read through
 * the (person_id, creation_time) btree and every other ping found by probing the GiST index on
 * coordinate once per own ping — never a scan of the whole location table.
 */
import type { Knex } from 'knex';
import { createDatabase, createLogger, type Database } from '@udaconnect/common';
import { buildConnectionQuery, CONNECTION_SESSION_SETTINGS, type ConnectionQuery } from '../src/connection-query';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';

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

async function explain(q: ConnectionQuery): Promise<PlanNode[]> {
  const { sql, bindings } = buildConnectionQuery(q);
  const { rows } = await knex.raw<{ rows: Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }> }>(`EXPLAIN (FORMAT JSON) ${sql}`, bindings);
  return nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
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
  expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'location')).toEqual([]);
});
