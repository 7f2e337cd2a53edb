import type { Knex } from 'knex';

/**
 * Privacy: the discoverability flag and the erased-person list.
 *
 * - person.discoverable: false leaves the person out of other people's connection answers
 *   (PATCH /api/persons/{id}); their own answers still work.
 * - erased_person: the ids of persons erased with DELETE /api/persons/{id}, and when. Nothing
 *   else of them is kept; the id is what stops their pings still in Kafka (or a replay of the
 *   topic) from being written again, and their tokens from being accepted. Ids come from a
 *   sequence and are never given out again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE person ADD COLUMN IF NOT EXISTS discoverable boolean NOT NULL DEFAULT true');
  // The proximity query asks for the few persons who opted out: a partial index holds just them.
  await knex.raw('CREATE INDEX IF NOT EXISTS person_not_discoverable_idx ON person (id) WHERE NOT discoverable');
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS erased_person (
      person_id int PRIMARY KEY,
      erased_at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS erased_person');
  await knex.raw('DROP INDEX IF EXISTS person_not_discoverable_idx');
  await knex.raw('ALTER TABLE person DROP COLUMN IF EXISTS discoverable');
}
