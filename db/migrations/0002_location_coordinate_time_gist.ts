import type { Knex } from 'knex';

// The connection query probes the GiST index once per own ping with the ping's coordinate
// *and* the date range (and, with time_window, a few minutes around the ping). With a GiST
// index on coordinate alone, PostgreSQL answered the time part by ANDing each probe's bitmap
// with the creation_time btree's bitmap of the whole range — one range scan per own ping,
// most of the query's time (docs/benchmarks.md). A two-column GiST (coordinate, creation_time)
// answers both in one probe; btree_gist supplies the GiST operator class for timestamptz.
// It replaces the one-column index: its leading column serves every coordinate-only search.
//
// btree_gist is a trusted extension (PostgreSQL 13+), so the database owner may create it.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS btree_gist');
  await knex.raw('CREATE INDEX IF NOT EXISTS location_coordinate_time_gist ON location USING gist (coordinate, creation_time)');
  await knex.raw('DROP INDEX IF EXISTS location_coordinate_gist');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS location_coordinate_gist ON location USING gist (coordinate)');
  await knex.raw('DROP INDEX IF EXISTS location_coordinate_time_gist');
}
