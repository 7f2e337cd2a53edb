import type { Knex } from 'knex';

// Every statement is IF NOT EXISTS, so the migration is safe against a database that
// already has the tables (e.g. created by hand or by the old system's scripts).
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS postgis');
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS person (
      id           serial PRIMARY KEY,
      first_name   varchar NOT NULL,
      last_name    varchar NOT NULL,
      company_name varchar NOT NULL
    )`);
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS location (
      id            bigserial PRIMARY KEY,
      person_id     int NOT NULL REFERENCES person (id),
      coordinate    geography(Point, 4326) NOT NULL, -- X = longitude, Y = latitude
      creation_time timestamptz NOT NULL,
      event_id      uuid NOT NULL UNIQUE,
      received_at   timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS location_coordinate_gist ON location USING gist (coordinate)');
  await knex.raw('CREATE INDEX IF NOT EXISTS location_person_time_idx ON location (person_id, creation_time)');
  await knex.raw('CREATE INDEX IF NOT EXISTS location_creation_time_idx ON location (creation_time)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS location');
  await knex.raw('DROP TABLE IF EXISTS person');
}
