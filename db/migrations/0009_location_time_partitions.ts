import type { Knex } from 'knex';

/**
 * Time partitioning of `location` (docs/scaling.md, "Time partitioning").
 *
 * `location` becomes `PARTITION BY RANGE (creation_time)`, one partition per UTC day
 * (`location_pYYYYMMDD`), created ahead by location-writer (src/partitions.ts) and dropped whole by
 * its retention (src/retention.ts). The table as it was stays, without a copy: renamed
 * `location_legacy`, it is attached as the first partition, from MINVALUE to the UTC midnight after
 * both its newest row and today. `location_default` takes what no partition covers (a day not
 * created yet, a device whose clock is far off) until its day is created.
 *
 * PostgreSQL wants the partition key in every unique constraint, so the primary key becomes
 * (id, creation_time) and the idempotence key (event_id, creation_time): a replayed or re-sent
 * ping repeats its recorded_at and still meets its first copy (docs/decisions.md). The three
 * indexes the queries use are declared once on the parent and made on every partition, the BRIN
 * of migration 0005 included: retention still deletes row by row in the legacy and default
 * partitions and in the day that straddles its cutoff, and the BRIN finds those rows at next to
 * no cost per insert.
 *
 * Creating and dropping partitions needs ownership of the table, which no service role has: the
 * writer calls two SECURITY DEFINER functions instead (owned by the migrating role, the schema's
 * owner; search_path pinned; EXECUTE only for the writer's role, db/roles.ts). Both take one
 * transaction-level advisory lock, so writer replicas calling them at once take turns, and give up
 * a lock they wait for longer than 5 s (the next run tries again) rather than queue the inserts
 * and queries behind it.
 */

/** Key of the advisory lock the partition functions take, beside retention's 4207315001 and presence's 4207315002. */
const PARTITION_LOCK_KEY = 4_207_315_003;

/** The indexes the queries and retention use (migrations 0002, 0001, 0005), on the partitioned table and on the plain one of down(). */
const LOCATION_INDEXES = [
  'CREATE INDEX location_coordinate_time_gist ON location USING gist (coordinate, creation_time)',
  'CREATE INDEX location_person_time_idx ON location (person_id, creation_time)',
  'CREATE INDEX location_creation_time_brin ON location USING brin (creation_time)',
];

export async function up(knex: Knex): Promise<void> {
  const { rows: schemas } = await knex.raw<{ rows: Array<{ schema: string }> }>('SELECT quote_ident(current_schema()) AS schema');
  // pg_catalog is searched first when not named; new tables go to the first schema named.
  const searchPath = `${schemas[0]!.schema}, pg_temp`;

  // The old table and what is named after it (index names are the schema's, not the table's).
  await knex.raw('ALTER TABLE location RENAME TO location_legacy');
  await knex.raw('ALTER TABLE location_legacy RENAME CONSTRAINT location_person_id_fkey TO location_legacy_person_id_fkey');
  await knex.raw('ALTER INDEX location_coordinate_time_gist RENAME TO location_legacy_coordinate_time_gist');
  await knex.raw('ALTER INDEX location_person_time_idx RENAME TO location_legacy_person_time_idx');
  await knex.raw('ALTER INDEX location_creation_time_brin RENAME TO location_legacy_creation_time_brin');
  // Its keys become the partitioned table's, so that ATTACH adopts them instead of building others.
  // event_id alone must not stay unique here: a conflict on an index that is not the insert's
  // arbiter is an error, not a skipped row.
  await knex.raw(`
    ALTER TABLE location_legacy
      DROP CONSTRAINT location_pkey,
      DROP CONSTRAINT location_event_id_key,
      ADD CONSTRAINT location_legacy_pkey PRIMARY KEY (id, creation_time),
      ADD CONSTRAINT location_legacy_event_id_creation_time_key UNIQUE (event_id, creation_time),
      ALTER COLUMN id DROP DEFAULT`);

  // The partitioned table: the same columns and defaults; ids keep coming from the same sequence.
  await knex.raw(`
    CREATE TABLE location (
      id            bigint NOT NULL DEFAULT nextval('location_id_seq'::regclass),
      person_id     int NOT NULL,
      coordinate    geography(Point, 4326) NOT NULL, -- X = longitude, Y = latitude
      creation_time timestamptz NOT NULL,
      event_id      uuid NOT NULL,
      received_at   timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT location_pkey PRIMARY KEY (id, creation_time),
      CONSTRAINT location_event_id_creation_time_key UNIQUE (event_id, creation_time),
      CONSTRAINT location_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id)
    ) PARTITION BY RANGE (creation_time)`);
  await knex.raw('ALTER SEQUENCE location_id_seq OWNED BY location.id');
  for (const index of LOCATION_INDEXES) await knex.raw(index);

  // The old rows, where they are. The bound is a UTC midnight, like the days' bounds. A validated
  // CHECK that implies the partition's range lets ATTACH skip its own scan of the table; once
  // attached, the range says the same and the CHECK goes.
  const { rows: bounds } = await knex.raw<{ rows: Array<{ day: string }> }>(
    `SELECT to_char(greatest((now() AT TIME ZONE 'UTC')::date, (max(creation_time) AT TIME ZONE 'UTC')::date) + 1, 'YYYY-MM-DD') AS day FROM location_legacy`,
  );
  const bound = `'${bounds[0]!.day} 00:00:00+00'`;
  await knex.raw(`ALTER TABLE location_legacy ADD CONSTRAINT location_legacy_bound CHECK (creation_time < ${bound})`);
  await knex.raw(`ALTER TABLE location ATTACH PARTITION location_legacy FOR VALUES FROM (MINVALUE) TO (${bound})`);
  await knex.raw('ALTER TABLE location_legacy DROP CONSTRAINT location_legacy_bound');
  await knex.raw('CREATE TABLE location_default PARTITION OF location DEFAULT');

  // Every partition but the default, with its bounds, read from the catalog (pg_get_expr prints a
  // bound in the session's time zone and date style: both are pinned here).
  await knex.raw(`
    CREATE FUNCTION location_partitions()
    RETURNS TABLE (partition regclass, from_time timestamptz, to_time timestamptz)
    LANGUAGE sql STABLE
    SET search_path = ${searchPath}
    SET TimeZone = 'UTC'
    SET DateStyle = 'ISO, YMD'
    AS $$
      SELECT c.oid::regclass,
             CASE WHEN b.m[1] = 'MINVALUE' THEN '-infinity' ELSE btrim(b.m[1], '''') END::timestamptz,
             CASE WHEN b.m[2] = 'MAXVALUE' THEN 'infinity' ELSE btrim(b.m[2], '''') END::timestamptz
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid,
             regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\((.+)\\) TO \\((.+)\\)$') AS b(m)
       WHERE i.inhparent = 'location'::regclass AND b.m IS NOT NULL
    $$`);

  // The partitions of the UTC days from_day .. from_day + days - 1 that no partition covers yet.
  // Each is made standalone, given the rows of its day the default partition holds, then attached:
  // ATTACH locks the parent in SHARE UPDATE EXCLUSIVE mode only (inserts and queries go on), where
  // CREATE TABLE … PARTITION OF would lock it exclusively. The default partition is locked first,
  // so no row of the day can reach it between the move and the ATTACH that checks it holds none.
  await knex.raw(`
    CREATE FUNCTION location_ensure_partitions(from_day date, days int)
    RETURNS TABLE (partition_name text, moved_rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = ${searchPath}
    SET lock_timeout = '5s'
    AS $$
    DECLARE
      day date;
      day_start timestamptz;
    BEGIN
      IF from_day IS NULL OR days IS NULL OR days NOT BETWEEN 1 AND 366 THEN
        RAISE EXCEPTION 'location_ensure_partitions: from_day must be a date and days 1 to 366, got % and %', from_day, days
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      PERFORM pg_advisory_xact_lock(${PARTITION_LOCK_KEY});
      FOR day IN SELECT d::date FROM generate_series(from_day, from_day + (days - 1), interval '1 day') AS d LOOP
        day_start := day::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN EXISTS (SELECT FROM location_partitions() p WHERE p.from_time < day_start + interval '1 day' AND p.to_time > day_start);
        partition_name := 'location_p' || to_char(day, 'YYYYMMDD');
        LOCK TABLE location_default IN ACCESS EXCLUSIVE MODE;
        EXECUTE format('CREATE TABLE %I (LIKE location)', partition_name);
        EXECUTE format('WITH moved AS (DELETE FROM location_default WHERE creation_time >= $1 AND creation_time < $2 RETURNING *)
                        INSERT INTO %I SELECT * FROM moved', partition_name)
          USING day_start, day_start + interval '1 day';
        GET DIAGNOSTICS moved_rows = ROW_COUNT;
        EXECUTE format('ALTER TABLE location ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', partition_name,
                       to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
        RETURN NEXT;
      END LOOP;
    END $$`);

  // Drops the partitions whose every row is older than cutoff (their upper bound is at or before
  // it), the legacy one included once it is that old; returns each with the rows it held. The rows
  // are counted first and the partitions dropped together after: DROP locks the parent exclusively,
  // and only for that last statement.
  await knex.raw(`
    CREATE FUNCTION location_drop_partitions_before(cutoff timestamptz)
    RETURNS TABLE (partition_name text, deleted_rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = ${searchPath}
    SET lock_timeout = '5s'
    AS $$
    DECLARE
      names text[] := '{}';
      counts bigint[] := '{}';
      n bigint;
      p regclass;
    BEGIN
      IF cutoff IS NULL OR cutoff > now() THEN
        RAISE EXCEPTION 'location_drop_partitions_before: the cutoff must be in the past, got %', cutoff USING ERRCODE = 'invalid_parameter_value';
      END IF;
      PERFORM pg_advisory_xact_lock(${PARTITION_LOCK_KEY});
      FOR p IN SELECT b.partition FROM location_partitions() b WHERE b.to_time <= cutoff ORDER BY b.to_time LOOP
        EXECUTE format('SELECT count(*) FROM %s', p) INTO n;
        names := names || p::text;
        counts := counts || n;
      END LOOP;
      IF cardinality(names) > 0 THEN
        EXECUTE 'DROP TABLE ' || array_to_string(names, ', ');
      END IF;
      RETURN QUERY SELECT * FROM unnest(names, counts);
    END $$`);

  // Functions are executable by PUBLIC unless revoked; db/roles.ts grants the writer its two.
  await knex.raw(
    'REVOKE ALL ON FUNCTION location_partitions(), location_ensure_partitions(date, int), location_drop_partitions_before(timestamptz) FROM PUBLIC',
  );
}

/**
 * One plain table again, with every row of every partition and the keys and indexes of
 * migrations 0001–0005. It copies the rows, and fails (changing nothing) if an event id is stored
 * twice, which the partitioned key allows: such rows must be resolved by hand first.
 */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION location_drop_partitions_before(timestamptz), location_ensure_partitions(date, int), location_partitions()');
  await knex.raw('CREATE TABLE location_plain (LIKE location INCLUDING DEFAULTS)');
  await knex.raw('INSERT INTO location_plain SELECT * FROM location');
  // Dropping the partitioned table would drop the sequence it owns.
  await knex.raw('ALTER SEQUENCE location_id_seq OWNED BY location_plain.id');
  await knex.raw('DROP TABLE location');
  await knex.raw('ALTER TABLE location_plain RENAME TO location');
  await knex.raw(`
    ALTER TABLE location
      ADD CONSTRAINT location_pkey PRIMARY KEY (id),
      ADD CONSTRAINT location_event_id_key UNIQUE (event_id),
      ADD CONSTRAINT location_person_id_fkey FOREIGN KEY (person_id) REFERENCES person (id)`);
  for (const index of LOCATION_INDEXES) await knex.raw(index);
}
