/**
 * Migration 0009 (location partitioned by day) on a database that has rows: down to the one plain
 * table and up again keeps every row with its id, makes the old table the first partition without
 * copying it, and the ids go on from the same sequence; down gathers the rows of every partition
 * (legacy, day, default) into one plain table with the keys and indexes of migrations 0001–0005.
 */
import { migrateDown, migrateLatest } from '../../db';
import { useTestDatabase } from '../support/test-database';

const MIGRATION = '0009_location_time_partitions';

const t = useTestDatabase('partmigration');

/** Every row, every column, in id order. */
async function snapshot(): Promise<unknown[]> {
  const { rows } = await t.knex.raw(
    `SELECT id, person_id, ST_AsText(coordinate::geometry) AS coordinate, creation_time, event_id::text, received_at FROM location ORDER BY id`,
  );
  return rows;
}

/** `n` pings of person 5, one a minute from `hour` o'clock UTC of the day `day` days after today (UTC). */
async function insertOn(day: number, hour: number, n = 1): Promise<void> {
  await t.knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT 5, ST_SetSRID(ST_MakePoint(-122.29 + g * 0.0001, 37.55), 4326)::geography,
            ((now() AT TIME ZONE 'UTC')::date + ?::int + make_interval(hours => ?::int, mins => g)) AT TIME ZONE 'UTC', gen_random_uuid()
       FROM generate_series(1, ?::int) g`,
    [day, hour, n],
  );
}

/** The partitions of location with their bounds (UTC), in order; '-infinity' for MINVALUE. */
async function partitions(): Promise<Array<{ partition: string; from: string; to: string }>> {
  const { rows } = await t.knex.raw(
    `SELECT partition::text AS partition,
            CASE WHEN from_time = '-infinity' THEN '-infinity' ELSE to_char(from_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') END AS "from",
            to_char(to_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS "to"
       FROM location_partitions() ORDER BY from_time`,
  );
  return rows;
}

/** The UTC midnight `days` after today's, as location_partitions() prints it. */
async function midnight(days: number): Promise<string> {
  const { rows } = await t.knex.raw(`SELECT to_char((now() AT TIME ZONE 'UTC')::date + ?::int, 'YYYY-MM-DD') || ' 00:00' AS at`, [days]);
  return rows[0].at;
}

async function locationKind(): Promise<string> {
  const { rows } = await t.knex.raw(`SELECT relkind::text FROM pg_class WHERE oid = 'location'::regclass`);
  return rows[0].relkind;
}

test('up on a table with rows: every row and id kept, the old table attached as the first partition (no copy), the sequence goes on', async () => {
  expect(await migrateDown(t.knex)).toEqual([MIGRATION]);
  expect(await locationKind()).toBe('r');
  // The seed's 2020 pings, some of the last three days, and one two days ahead (a clock that is off).
  await insertOn(-3, 8, 300);
  await insertOn(2, 12);
  const before = await snapshot();
  const { rows: file } = await t.knex.raw(`SELECT pg_relation_filenode('location') AS node, (SELECT max(id) FROM location) AS max_id`);

  expect(await migrateLatest(t.knex)).toEqual([MIGRATION]);
  expect(await locationKind()).toBe('p');
  expect(await snapshot()).toEqual(before);
  // The old table's own file: attached as it was, not copied.
  const { rows: legacy } = await t.knex.raw(`SELECT pg_relation_filenode('location_legacy') AS node`);
  expect(legacy[0].node).toBe(file[0].node);
  // From MINVALUE to the UTC midnight after its newest row (which is after today); the default after.
  expect(await partitions()).toEqual([{ partition: 'location_legacy', from: '-infinity', to: await midnight(3) }]);
  const { rows: all } = await t.knex.raw(
    `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'location'::regclass ORDER BY 1`,
  );
  expect(all).toEqual([
    { relname: 'location_default', bound: 'DEFAULT' },
    { relname: 'location_legacy', bound: expect.stringMatching(/^FOR VALUES FROM \(MINVALUE\) TO /) },
  ]);
  // Its keys and indexes are the parent's (adopted, none built twice), and the CHECK that spared
  // ATTACH its scan is gone.
  const { rows: indexes } = await t.knex.raw(
    `SELECT c.relname AS index, p.relname AS parent
       FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
       LEFT JOIN pg_inherits i ON i.inhrelid = x.indexrelid LEFT JOIN pg_class p ON p.oid = i.inhparent
      WHERE x.indrelid = 'location_legacy'::regclass ORDER BY 1`,
  );
  expect(indexes).toEqual([
    { index: 'location_legacy_coordinate_time_gist', parent: 'location_coordinate_time_gist' },
    { index: 'location_legacy_creation_time_brin', parent: 'location_creation_time_brin' },
    { index: 'location_legacy_event_id_creation_time_key', parent: 'location_event_id_creation_time_key' },
    { index: 'location_legacy_person_time_idx', parent: 'location_person_time_idx' },
    { index: 'location_legacy_pkey', parent: 'location_pkey' },
  ]);
  const { rows: checks } = await t.knex.raw(`SELECT conname FROM pg_constraint WHERE conrelid = 'location_legacy'::regclass AND contype = 'c'`);
  expect(checks).toEqual([]);
  // The parent owns the sequence now, and the next row's id follows the old ones.
  const { rows: seq } = await t.knex.raw(`SELECT pg_get_serial_sequence('location', 'id') AS seq`);
  expect(seq).toEqual([{ seq: 'public.location_id_seq' }]);
  const { rows: next } = await t.knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid()) RETURNING id`,
  );
  expect(Number(next[0].id)).toBeGreaterThan(Number(file[0].max_id));
});

test('down gathers legacy, day and default rows into one plain table with the keys of 0001–0005; up partitions it again', async () => {
  // A day made ahead (the first after the legacy bound) with a row, and a row in the default partition.
  const { rows: made } = await t.knex.raw(`SELECT partition_name FROM location_ensure_partitions((now() AT TIME ZONE 'UTC')::date + 3, 1)`);
  expect(made).toHaveLength(1);
  await insertOn(3, 6);
  await insertOn(20, 12);
  const { rows: where } = await t.knex.raw(`SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM location GROUP BY 1 ORDER BY 1`);
  expect(where.map((r: { partition: string }) => r.partition)).toEqual(['location_default', 'location_legacy', made[0].partition_name]);
  const before = await snapshot();

  expect(await migrateDown(t.knex)).toEqual([MIGRATION]);
  expect(await locationKind()).toBe('r');
  expect(await snapshot()).toEqual(before);
  const { rows: keys } = await t.knex.raw(
    `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'location'::regclass ORDER BY 1`,
  );
  expect(keys).toEqual([
    { conname: 'location_event_id_key', def: 'UNIQUE (event_id)' },
    { conname: 'location_person_id_fkey', def: 'FOREIGN KEY (person_id) REFERENCES person(id)' },
    { conname: 'location_pkey', def: 'PRIMARY KEY (id)' },
  ]);
  const { rows: idx } = await t.knex.raw(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'location' AND indexname NOT LIKE '%key' ORDER BY 1`);
  expect(idx.map((r: { indexdef: string }) => r.indexdef.replace(/^.* USING /, ''))).toEqual([
    'gist (coordinate, creation_time)',
    'brin (creation_time)',
    'btree (person_id, creation_time)',
  ]);
  const { rows: left } = await t.knex.raw(
    `SELECT relname FROM pg_class WHERE relname LIKE 'location%' AND relkind IN ('r', 'p') UNION ALL
     SELECT proname FROM pg_proc WHERE proname LIKE 'location%' ORDER BY 1`,
  );
  expect(left).toEqual([{ relname: 'location' }]);
  const { rows: seq } = await t.knex.raw(`SELECT pg_get_serial_sequence('location', 'id') AS seq`);
  expect(seq).toEqual([{ seq: 'public.location_id_seq' }]);

  expect(await migrateLatest(t.knex)).toEqual([MIGRATION]);
  expect(await snapshot()).toEqual(before);
  expect(await partitions()).toEqual([{ partition: 'location_legacy', from: '-infinity', to: await midnight(21) }]);
});

test('down refuses, changing nothing, while an event id is stored twice (at two times, which the partitioned key allows)', async () => {
  const { rows } = await t.knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT 5, 'SRID=4326;POINT(0 0)', t, '6d1f3c1e-6b0c-4a59-9a4e-4c1a1e0f0a01' FROM unnest(ARRAY[now() - interval '1 hour', now()]) t RETURNING id`,
  );
  expect(rows).toHaveLength(2);
  await expect(migrateDown(t.knex)).rejects.toMatchObject({ code: '23505' });
  expect(await locationKind()).toBe('p');
  expect(await migrateLatest(t.knex)).toEqual([]);
});
