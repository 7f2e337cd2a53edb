import type { Knex } from 'knex';

// Retention (modules/location-writer/src/retention.ts) deletes the pings older than a cutoff,
// in batches, every hour. A BRIN index finds them without the cost of the btree migration 0004
// dropped: it keeps one min/max summary per 128 heap pages (kilobytes, not the btree's 214 MB at
// 10M pings) and adds next to nothing to an insert. That suits this table: pings arrive roughly in
// time order, so each page range holds a narrow span of creation_time.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS location_creation_time_brin ON location USING brin (creation_time)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS location_creation_time_brin');
}
