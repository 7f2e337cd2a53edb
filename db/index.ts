/**
 * Schema migrations and seed data. Migrations are listed here rather than discovered on
 * disk, so they run the same under tsx, jest and a bundled image.
 */
import type { Knex } from 'knex';
import * as m0001 from './migrations/0001_postgis_person_location';
import * as m0002 from './migrations/0002_location_coordinate_time_gist';
import * as m0003 from './migrations/0003_device';
import * as m0004 from './migrations/0004_drop_location_creation_time_idx';
import * as m0005 from './migrations/0005_location_creation_time_brin';
import * as m0006 from './migrations/0006_person_privacy';
import * as m0007 from './migrations/0007_events';
import * as m0008 from './migrations/0008_presence';
import * as m0009 from './migrations/0009_location_time_partitions';
import starterSeed from './seed-data/starter-seed.json';

const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '0001_postgis_person_location': m0001,
  '0002_location_coordinate_time_gist': m0002,
  '0003_device': m0003,
  '0004_drop_location_creation_time_idx': m0004,
  '0005_location_creation_time_brin': m0005,
  '0006_person_privacy': m0006,
  '0007_events': m0007,
  '0008_presence': m0008,
  '0009_location_time_partitions': m0009,
};

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/** Applies every pending migration; returns the names applied now (empty when up to date). */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Undoes the newest applied migration; returns its name (tests of a migration's down and up). */
export async function migrateDown(knex: Knex): Promise<string[]> {
  const [, undone] = (await knex.migrate.down({ migrationSource })) as [number, string[]];
  return undone;
}

export interface SeedData {
  persons: Array<{ id: number; first_name: string; last_name: string; company_name: string }>;
  locations: Array<{ id: number; person_id: number; latitude: number; longitude: number; creation_time: string }>;
}

/**
 * Loads the old system's persons and locations with their ids (idempotent), then moves the
 * id sequences past them so the first POST does not collide with a seeded id.
 */
export async function seed(knex: Knex, data: SeedData = starterSeed): Promise<{ persons: number; locations: number }> {
  return knex.transaction(async (trx) => {
    await trx('person').insert(data.persons).onConflict('id').ignore();
    for (const l of data.locations) {
      // Seed event ids are derived from the location id, so re-seeding is a no-op.
      await trx.raw(
        `INSERT INTO location (id, person_id, coordinate, creation_time, event_id)
         VALUES (?, ?, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?, md5('udaconnect-seed-location-' || ?::text)::uuid)
         ON CONFLICT DO NOTHING`,
        [l.id, l.person_id, l.longitude, l.latitude, l.creation_time, l.id],
      );
    }
    await trx.raw(`SELECT setval(pg_get_serial_sequence('person', 'id'), GREATEST((SELECT max(id) FROM person), 1))`);
    await trx.raw(`SELECT setval(pg_get_serial_sequence('location', 'id'), GREATEST((SELECT max(id) FROM location), 1))`);
    return { persons: data.persons.length, locations: data.locations.length };
  });
}
