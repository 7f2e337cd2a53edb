import type { Knex } from 'knex';

/**
 * Presence: visits and attendance derived from the pings by the writer's presence
 * worker (modules/location-writer/src/presence.ts), and the queue of persons whose presence must
 * be computed again.
 *
 * - visit: one row per visit that meets the rule (consecutive pings inside a place, gaps ≤ 5 min,
 *   spanning ≥ 2 min). The place belongs to the visit's event: the foreign key is
 *   (event_id, place_id), like session's. Indexed by (event_id, place_id) for "who else was at
 *   this booth" (the shared query joins two persons' visits on the place).
 * - attendance: one row per session the person attended (inside its room for ≥ half of it).
 * - presence_dirty: marks, insert-only from the writer's batch transaction (no foreign key, no
 *   update: writers never wait on each other nor on erasure); the worker reads them in id order
 *   and deletes exactly the ones it processed. marked_at gives the queue's age.
 *
 * Rows of a person go with the person (ON DELETE CASCADE: erasure), those of a place or session
 * with it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS visit (
      person_id  int NOT NULL REFERENCES person (id) ON DELETE CASCADE,
      event_id   int NOT NULL,
      place_id   int NOT NULL,
      first_seen timestamptz NOT NULL,
      last_seen  timestamptz NOT NULL,
      PRIMARY KEY (person_id, place_id, first_seen),
      CONSTRAINT visit_place_fkey FOREIGN KEY (event_id, place_id) REFERENCES place (event_id, id) ON DELETE CASCADE,
      CONSTRAINT visit_time_check CHECK (last_seen >= first_seen)
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS visit_event_place_idx ON visit (event_id, place_id)');
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS attendance (
      person_id      int NOT NULL REFERENCES person (id) ON DELETE CASCADE,
      event_id       int NOT NULL,
      session_id     int NOT NULL REFERENCES session (id) ON DELETE CASCADE,
      seconds_inside double precision NOT NULL CONSTRAINT attendance_seconds_check CHECK (seconds_inside >= 0),
      PRIMARY KEY (person_id, session_id)
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS attendance_event_session_idx ON attendance (event_id, session_id)');
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS presence_dirty (
      id        bigserial PRIMARY KEY,
      person_id int NOT NULL,
      since     timestamptz NOT NULL,
      until     timestamptz NOT NULL,
      marked_at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS presence_dirty');
  await knex.raw('DROP TABLE IF EXISTS attendance');
  await knex.raw('DROP TABLE IF EXISTS visit');
}
