import { migrateLatest, seed } from '../../db';
import seedData from '../../db/seed-data/starter-seed.json';
import { useTestDatabase } from '../support/test-database';

const t = useTestDatabase('migrations');

test('migrations and seed can run again without error or change', async () => {
  expect(await migrateLatest(t.knex)).toEqual([]);
  await seed(t.knex);
  const { rows } = await t.knex.raw('SELECT (SELECT count(*) FROM person)::int AS persons, (SELECT count(*) FROM location)::int AS locations');
  expect(rows[0]).toEqual({ persons: seedData.persons.length, locations: seedData.locations.length });
});

test('location matches docs/contract.md §5: geography(Point,4326), unique (event_id, creation_time), GiST on (coordinate, creation_time), btree on (person_id, creation_time), no btree on creation_time alone', async () => {
  const { rows: cols } = await t.knex.raw(
    `SELECT column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_name = 'location' ORDER BY ordinal_position`,
  );
  expect(cols).toEqual(
    expect.arrayContaining([
      { column_name: 'id', udt_name: 'int8', is_nullable: 'NO' },
      { column_name: 'person_id', udt_name: 'int4', is_nullable: 'NO' },
      { column_name: 'coordinate', udt_name: 'geography', is_nullable: 'NO' },
      { column_name: 'creation_time', udt_name: 'timestamptz', is_nullable: 'NO' },
      { column_name: 'event_id', udt_name: 'uuid', is_nullable: 'NO' },
    ]),
  );
  const { rows: geo } = await t.knex.raw(`SELECT type, srid FROM geography_columns WHERE f_table_name = 'location'`);
  expect(geo).toEqual([{ type: 'Point', srid: 4326 }]);
  // Partitioned by day since migration 0009: the parent's indexes are declared ON ONLY it, and every
  // partition has its own; the unique key holds the partition key.
  const { rows: idx } = await t.knex.raw(`SELECT indexdef FROM pg_indexes WHERE tablename = 'location'`);
  const defs = idx.map((r: { indexdef: string }) => r.indexdef).join('\n');
  expect(defs).toMatch(/location_coordinate_time_gist ON ONLY public\.location USING gist \(coordinate, creation_time\)/);
  expect(defs).not.toMatch(/location_coordinate_gist/); // replaced by migration 0002
  expect(defs).toMatch(/\(person_id, creation_time\)/);
  expect(defs).not.toMatch(/location_creation_time_idx|btree \(creation_time\)/); // dropped by migration 0004
  expect(defs).toMatch(/UNIQUE INDEX location_event_id_creation_time_key ON ONLY public\.location USING btree \(event_id, creation_time\)/);
  expect(defs).not.toMatch(/\(event_id\)/);
  const { rows: kind } = await t.knex.raw(`SELECT pg_get_partkeydef('location'::regclass) AS key`);
  expect(kind).toEqual([{ key: 'RANGE (creation_time)' }]);
});

test('seeded coordinates are stored with X = longitude and Y = latitude', async () => {
  const { rows } = await t.knex.raw(
    `SELECT id::int AS id, ST_X(coordinate::geometry) AS x, ST_Y(coordinate::geometry) AS y, creation_time FROM location ORDER BY id`,
  );
  const byId = new Map(seedData.locations.map((l) => [l.id, l]));
  for (const r of rows) {
    const l = byId.get(r.id)!;
    expect(r.x).toBeCloseTo(l.longitude, 7);
    expect(r.y).toBeCloseTo(l.latitude, 7);
    expect(r.creation_time.toISOString()).toBe(new Date(l.creation_time).toISOString());
  }
});

test('the id sequences are past the seeded ids', async () => {
  const [{ id }] = await t.knex('person').insert({ first_name: 'a', last_name: 'b', company_name: 'c' }).returning('id');
  expect(id).toBe(Math.max(...seedData.persons.map((p) => p.id)) + 1);
});

test('presence (0008): visit and attendance keyed for a person’s reads, indexed for a place’s or session’s, cascading with person, place and session', async () => {
  const { rows } = await t.knex.raw<{ rows: Array<{ def: string }> }>(
    `SELECT conrelid::regclass || ': ' || pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid IN ('visit'::regclass, 'attendance'::regclass, 'presence_dirty'::regclass) AND contype IN ('p', 'f') ORDER BY 1`,
  );
  expect(rows.map((r) => r.def)).toEqual([
    'attendance: FOREIGN KEY (person_id) REFERENCES person(id) ON DELETE CASCADE',
    'attendance: FOREIGN KEY (session_id) REFERENCES session(id) ON DELETE CASCADE',
    'attendance: PRIMARY KEY (person_id, session_id)',
    'presence_dirty: PRIMARY KEY (id)',
    'visit: FOREIGN KEY (event_id, place_id) REFERENCES place(event_id, id) ON DELETE CASCADE',
    'visit: FOREIGN KEY (person_id) REFERENCES person(id) ON DELETE CASCADE',
    'visit: PRIMARY KEY (person_id, place_id, first_seen)',
  ]);
  const { rows: idx } = await t.knex.raw<{ rows: Array<{ indexdef: string }> }>(
    `SELECT indexdef FROM pg_indexes WHERE tablename IN ('visit', 'attendance') AND indexname NOT LIKE '%pkey' ORDER BY 1`,
  );
  expect(idx.map((r) => r.indexdef.replace(/^.* USING /, ''))).toEqual(['btree (event_id, session_id)', 'btree (event_id, place_id)']);
});
