import type { Knex } from 'knex';

/**
 * Events and venues (docs/contract.md §2.3): an event, its places (booths, rooms, areas: polygons in WGS 84)
 * and its sessions (talks in a place, at a time).
 *
 * - A session's place belongs to the session's event: the foreign key is (event_id, place_id).
 * - Two sessions never overlap in one place: an exclusion constraint on the place and the
 *   half-open time range (btree_gist, migration 0002, gives `=` on int a GiST operator class).
 *   Back-to-back sessions (one ends when the next starts) do not overlap.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS event (
      id        serial PRIMARY KEY,
      name      varchar(200) NOT NULL,
      starts_at timestamptz NOT NULL,
      ends_at   timestamptz NOT NULL,
      CONSTRAINT event_time_check CHECK (ends_at > starts_at)
    )`);
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS place (
      id       serial PRIMARY KEY,
      event_id int NOT NULL REFERENCES event (id),
      name     varchar(200) NOT NULL,
      kind     text NOT NULL CONSTRAINT place_kind_check CHECK (kind IN ('booth', 'room', 'area')),
      area     geography(Polygon, 4326) NOT NULL,
      CONSTRAINT place_event_name_key UNIQUE (event_id, name),
      CONSTRAINT place_event_id_key UNIQUE (event_id, id)
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS place_event_idx ON place (event_id)');
  await knex.raw('CREATE INDEX IF NOT EXISTS place_area_gist ON place USING gist (area)');
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS session (
      id        serial PRIMARY KEY,
      event_id  int NOT NULL REFERENCES event (id),
      place_id  int NOT NULL,
      title     varchar(200) NOT NULL,
      starts_at timestamptz NOT NULL,
      ends_at   timestamptz NOT NULL,
      CONSTRAINT session_time_check CHECK (ends_at > starts_at),
      CONSTRAINT session_place_fkey FOREIGN KEY (event_id, place_id) REFERENCES place (event_id, id),
      CONSTRAINT session_place_overlap EXCLUDE USING gist (place_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS session_event_idx ON session (event_id, starts_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS session');
  await knex.raw('DROP TABLE IF EXISTS place');
  await knex.raw('DROP TABLE IF EXISTS event');
}
