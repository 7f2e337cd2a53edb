/** The writer's SQL: which persons exist, and the idempotent batch insert into `location`. */
import type { Knex } from '@udaconnect/common';
import type { LocationPing } from '@udaconnect/domain';
import { presenceMarks, type EventWindows, type WindowSet } from './event-windows';

export interface InsertResult {
  /** Rows written now. */
  inserted: number;
  /** Pings whose event_id and time were already stored for the same person (a replay): nothing written for them. */
  duplicates: number;
  /**
   * Pings (of those passed) whose event_id and time were already stored for a different person:
   * nothing written for them, and never silently (the batch processor dead-letters them).
   */
  conflicts: LocationPing[];
}

/**
 * The idempotence key of a ping, as the table's unique (event_id, creation_time) compares it:
 * the event id case-insensitively (a uuid), the time to the millisecond the writer stores.
 */
export const pingKey = (ping: LocationPing): string => `${ping.eventId.toLowerCase()} ${ping.recordedAt!.getTime()}`;

/** Which of some person ids exist, and which were erased (DELETE /api/persons/{id}); the others never existed. */
export interface PersonLookup {
  known: Set<number>;
  erased: Set<number>;
}

/** The ids among `ids` that exist in `person` and those in `erased_person`, in one query. */
export async function lookUpPersons(knex: Knex, ids: readonly number[]): Promise<PersonLookup> {
  if (ids.length === 0) return { known: new Set(), erased: new Set() };
  const { rows } = await knex.raw<{ rows: Array<{ id: number; erased: boolean }> }>(
    `SELECT id, false AS erased FROM person WHERE id = ANY(?::int[])
     UNION ALL
     SELECT person_id, true FROM erased_person WHERE person_id = ANY(?::int[])`,
    [[...ids], [...ids]],
  );
  return { known: new Set(rows.filter((r) => !r.erased).map((r) => r.id)), erased: new Set(rows.filter((r) => r.erased).map((r) => r.id)) };
}

/** PostgreSQL's foreign_key_violation: a person erased between the look-up and the insert. */
export const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Writes every ping with one statement, no transaction around it; a ping whose event_id is already
 * stored with the same time is skipped (ON CONFLICT on the table's unique (event_id, creation_time),
 * migration 0009), so replaying the topic changes nothing: a replayed or re-sent ping repeats its
 * recorded_at. The skipped ones, if any, are then looked up to tell a replay (same person) from an
 * event id reused by another person at the same time (`conflicts`). An event id reused at another
 * time is not seen by the key and is stored as a row of its own (docs/decisions.md). The caller
 * passes pings with distinct keys (`pingKey`; one statement must not see a key twice) and non-empty
 * event ids. Values are bound as arrays and unnested by PostgreSQL: X = longitude, Y = latitude,
 * and the time travels as an ISO string so its milliseconds survive.
 *
 * With `windows` (the event windows, event-windows.ts), the same statement also queues one
 * presence_dirty mark per person with pings inside a window, written now or already stored, for the
 * presence worker (presence.ts): a data-modifying WITH, so marks and rows are stored together or
 * not at all, in one round trip.
 */
export async function insertPings(knex: Knex, pings: readonly LocationPing[], windows?: WindowSet): Promise<InsertResult> {
  if (pings.length === 0) return { inserted: 0, duplicates: 0, conflicts: [] };
  const personIds = pings.map((p) => p.personId);
  const longitudes = pings.map((p) => p.longitude);
  const latitudes = pings.map((p) => p.latitude);
  const times = pings.map((p) => p.recordedAt!.toISOString());
  const eventIds = pings.map((p) => p.eventId);
  const marks = windows ? presenceMarks(pings, windows) : undefined;
  const withMarks = marks !== undefined && marks.personIds.length > 0;
  const { rows: written } = await knex.raw<{ rows: Array<{ event_id: string; creation_time: Date }> }>(
    `${
      withMarks
        ? `WITH marked AS (
             INSERT INTO presence_dirty (person_id, since, until) SELECT * FROM unnest(?::int[], ?::timestamptz[], ?::timestamptz[])
           )
           `
        : ''
    }INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT p, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, t, e
       FROM unnest(?::int[], ?::float8[], ?::float8[], ?::timestamptz[], ?::uuid[]) AS u(p, lon, lat, t, e)
     ON CONFLICT (event_id, creation_time) DO NOTHING
     RETURNING event_id::text, creation_time`,
    [...(withMarks ? [marks.personIds, marks.since, marks.until] : []), personIds, longitudes as number[], latitudes as number[], times, eventIds],
  );
  if (written.length === pings.length) return { inserted: written.length, duplicates: 0, conflicts: [] };
  const rowKey = (r: { event_id: string; creation_time: Date }) => `${r.event_id.toLowerCase()} ${r.creation_time.getTime()}`;
  const done = new Set(written.map(rowKey));
  const skipped = pings.filter((p) => !done.has(pingKey(p)));
  // Stored rows with the key of one of the skipped pings and a different person (the time bounds
  // each look-up to one partition).
  const { rows: foreign } = await knex.raw<{ rows: Array<{ event_id: string; creation_time: Date }> }>(
    `SELECT l.event_id::text AS event_id, l.creation_time
       FROM unnest(?::uuid[], ?::timestamptz[], ?::int[]) AS u(e, t, p)
       JOIN location l ON l.event_id = u.e AND l.creation_time = u.t
      WHERE l.person_id <> u.p`,
    [skipped.map((p) => p.eventId), skipped.map((p) => p.recordedAt!.toISOString()), skipped.map((p) => p.personId)],
  );
  const foreignKeys = new Set(foreign.map(rowKey));
  const conflicts = skipped.filter((p) => foreignKeys.has(pingKey(p)));
  return { inserted: written.length, duplicates: skipped.length - conflicts.length, conflicts };
}

/** The two functions above bound to one connection pool, as the batch processor uses them. */
export interface PingStore {
  lookUpPersons(ids: readonly number[]): Promise<PersonLookup>;
  insertPings(pings: readonly LocationPing[]): Promise<InsertResult>;
}

/** With `eventWindows`, each insert also queues the presence marks its pings call for. */
export function pingStore(knex: Knex, eventWindows?: EventWindows): PingStore {
  return {
    lookUpPersons: (ids) => lookUpPersons(knex, ids),
    insertPings: async (pings) => insertPings(knex, pings, await eventWindows?.current()),
  };
}
