import type { Knex } from 'knex';

/**
 * Devices: one row per attendee token issued by POST /api/persons/{id}/devices. The token's
 * `jti` is the device id; revoking sets revoked_at, and every service polls the revoked ids
 * (modules/common/src/auth.ts, RevocationList) and refuses those tokens.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS device (
      id         uuid PRIMARY KEY,
      person_id  int NOT NULL REFERENCES person (id),
      label      varchar(100),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`);
  await knex.raw('CREATE INDEX IF NOT EXISTS device_person_idx ON device (person_id)');
  // The services poll only revoked tokens that have not expired yet: a small partial index.
  await knex.raw('CREATE INDEX IF NOT EXISTS device_revoked_idx ON device (expires_at) WHERE revoked_at IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS device');
}
