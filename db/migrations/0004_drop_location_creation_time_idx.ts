import type { Knex } from 'knex';

// The btree on creation_time alone served no query: a person's pings come from
// (person_id, creation_time), and since migration 0002 the proximity probe finds the others'
// through gist (coordinate, creation_time) with the range in the same index condition
// (modules/connection-service/test/connection-query-plan.test.ts checks the plans). It cost
// every insert an index entry and took 214 MB at 10M pings (docs/benchmarks.md), so it goes.
// docs/decisions.md, "The creation_time btree is dropped".
export async function up(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS location_creation_time_idx');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS location_creation_time_idx ON location (creation_time)');
}
