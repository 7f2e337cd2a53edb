/**
 * Events, their places and sessions. Writes check what the database would refuse first, so a
 * refusal names the field (and the other session, the PostGIS reason); the constraints of
 * migration 0007 still hold against concurrent writers, and their violations are mapped too.
 */
import { badRequest, type FieldError, type Knex } from '@udaconnect/common';
import type { EventRecord, NewEvent, NewPlace, NewSession, Place, Session, VenueImport } from './event-schemas';

const EXCLUSION_VIOLATION = '23P01';
const UNIQUE_VIOLATION = '23505';

type EventRow = { id: number; name: string; starts_at: Date; ends_at: Date };
type SessionRow = { id: number; event_id: number; title: string; place_id: number; starts_at: Date; ends_at: Date };

const toEvent = (r: EventRow): EventRecord => ({ id: r.id, name: r.name, starts_at: r.starts_at.toISOString(), ends_at: r.ends_at.toISOString() });
const toSession = (r: SessionRow): Session => ({
  id: r.id,
  event_id: r.event_id,
  title: r.title,
  place_id: r.place_id,
  starts_at: r.starts_at.toISOString(),
  ends_at: r.ends_at.toISOString(),
});

/** Place columns, the area as GeoJSON (coordinates [longitude, latitude], up to 15 decimals: as sent). */
const PLACE_COLUMNS = 'id, event_id, name, kind, ST_AsGeoJSON(area, 15)::json AS area';
const SESSION_COLUMNS = ['id', 'event_id', 'title', 'place_id', 'starts_at', 'ends_at'] as const;

const pgCode = (err: unknown) => (typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined);
/** The first problems only: an import of 10,000 bad sessions answers 50 of them and how many more. */
const ERRORS_MAX = 50;
function refused(all: FieldError[]) {
  const errors = all.slice(0, ERRORS_MAX);
  const more = all.length > errors.length ? `; and ${all.length - errors.length} more` : '';
  return badRequest(`Refused: ${errors.map((e) => `${e.field} (${e.message})`).join('; ')}${more}`, errors);
}
const span = (s: { starts_at: Date | string; ends_at: Date | string }) => `${new Date(s.starts_at).toISOString()} to ${new Date(s.ends_at).toISOString()}`;

interface TimedItem {
  /** The field prefix errors name: '' for a single session, 'sessions.3.' in an import. */
  field: string;
  place_id: number;
  starts_at: Date;
  ends_at: Date;
}

/** The first item (in order) that overlaps a stored session in its place, and that session. */
async function firstOverlap(db: Knex, items: TimedItem[]): Promise<{ item: TimedItem; other: SessionRow } | undefined> {
  if (items.length === 0) return undefined;
  const { rows } = await db.raw<{ rows: Array<SessionRow & { i: string }> }>(
    `SELECT u.i, s.id, s.event_id, s.title, s.place_id, s.starts_at, s.ends_at
       FROM unnest(?::int[], ?::timestamptz[], ?::timestamptz[]) WITH ORDINALITY AS u(place_id, starts_at, ends_at, i)
       JOIN session s ON s.place_id = u.place_id AND tstzrange(s.starts_at, s.ends_at) && tstzrange(u.starts_at, u.ends_at)
      ORDER BY u.i, s.starts_at LIMIT 1`,
    [items.map((s) => s.place_id), items.map((s) => s.starts_at), items.map((s) => s.ends_at)],
  );
  const row = rows[0];
  return row ? { item: items[Number(row.i) - 1]!, other: row } : undefined;
}

const overlapError = (item: TimedItem, other: SessionRow): FieldError => ({
  field: `${item.field}starts_at`,
  message: `overlaps session ${other.id} ("${other.title}", ${span(other)}) in the same place`,
});

/** Times outside the event, as field errors. */
function outsideEvent(event: EventRow, item: { field: string; starts_at: Date; ends_at: Date }): FieldError[] {
  const errors: FieldError[] = [];
  const within = `must be within the event (${span(event)})`;
  if (item.starts_at < event.starts_at || item.starts_at >= event.ends_at) errors.push({ field: `${item.field}starts_at`, message: within });
  if (item.ends_at > event.ends_at) errors.push({ field: `${item.field}ends_at`, message: within });
  return errors;
}

/** PostGIS's reason for each invalid polygon (self-intersection, a hole outside, …), by index. */
async function invalidAreas(db: Knex, areas: NewPlace['area'][]): Promise<Array<{ index: number; reason: string }>> {
  if (areas.length === 0) return [];
  const { rows } = await db.raw<{ rows: Array<{ i: string; reason: string }> }>(
    `SELECT i, (d).reason || coalesce(' at ' || ST_AsText((d).location), '') AS reason FROM (SELECT i, ST_IsValidDetail(ST_GeomFromGeoJSON(j)) AS d FROM unnest(?::text[]) WITH ORDINALITY AS u(j, i)) t
      WHERE NOT (d).valid ORDER BY i`,
    [areas.map((a) => JSON.stringify(a))],
  );
  return rows.map((r) => ({ index: Number(r.i) - 1, reason: r.reason }));
}

/** Inserts places (already checked), answered in the order given. */
async function insertPlaces(db: Knex, eventId: number, places: NewPlace[]): Promise<Place[]> {
  if (places.length === 0) return [];
  const { rows } = await db.raw<{ rows: Place[] }>(
    `INSERT INTO place (event_id, name, kind, area)
     SELECT ?::int, name, kind, ST_GeomFromGeoJSON(area)::geography FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS u(name, kind, area, i) ORDER BY i
     RETURNING ${PLACE_COLUMNS}`,
    [eventId, places.map((p) => p.name), places.map((p) => p.kind), places.map((p) => JSON.stringify(p.area))],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  return places.map((p) => byName.get(p.name)!);
}

async function insertSessions(db: Knex, eventId: number, sessions: Array<Omit<NewSession, 'starts_at' | 'ends_at'> & TimedItem>): Promise<Session[]> {
  if (sessions.length === 0) return [];
  const rows = await db<SessionRow>('session')
    .insert(sessions.map((s) => ({ event_id: eventId, title: s.title, place_id: s.place_id, starts_at: s.starts_at, ends_at: s.ends_at })))
    .returning(SESSION_COLUMNS);
  return rows.map(toSession);
}

export function eventRepository(knex: Knex) {
  const findEventRow = (db: Knex, id: number) => db<EventRow>('event').select('id', 'name', 'starts_at', 'ends_at').where({ id }).first();

  /** Places of `eventId` with these names (to resolve an import's sessions, and find duplicates). */
  const placesNamed = async (db: Knex, eventId: number, names: string[]) =>
    names.length ? db<{ id: number; event_id: number; name: string }>('place').select('id', 'name').where({ event_id: eventId }).whereIn('name', names) : [];

  return {
    async createEvent(event: NewEvent): Promise<EventRecord> {
      const [row] = await knex<EventRow>('event')
        .insert({ name: event.name, starts_at: new Date(event.starts_at), ends_at: new Date(event.ends_at) })
        .returning(['id', 'name', 'starts_at', 'ends_at']);
      return toEvent(row!);
    },
    async listEvents(): Promise<EventRecord[]> {
      const rows = await knex<EventRow>('event').select('id', 'name', 'starts_at', 'ends_at').orderBy('id');
      return rows.map(toEvent);
    },
    async findEvent(id: number): Promise<EventRecord | undefined> {
      const row = await findEventRow(knex, id);
      return row && toEvent(row);
    },
    async listPlaces(eventId: number): Promise<Place[]> {
      const { rows } = await knex.raw<{ rows: Place[] }>(`SELECT ${PLACE_COLUMNS} FROM place WHERE event_id = ? ORDER BY id`, [eventId]);
      return rows;
    },
    async findPlace(eventId: number, placeId: number): Promise<Place | undefined> {
      const { rows } = await knex.raw<{ rows: Place[] }>(`SELECT ${PLACE_COLUMNS} FROM place WHERE event_id = ? AND id = ?`, [eventId, placeId]);
      return rows[0];
    },
    async listSessions(eventId: number): Promise<Session[]> {
      const rows = await knex<SessionRow>('session')
        .select(...SESSION_COLUMNS)
        .where({ event_id: eventId })
        .orderBy(['starts_at', 'place_id', 'id']);
      return rows.map(toSession);
    },
    async findSession(eventId: number, sessionId: number): Promise<Session | undefined> {
      const row = await knex<SessionRow>('session')
        .select(...SESSION_COLUMNS)
        .where({ event_id: eventId, id: sessionId })
        .first();
      return row && toSession(row);
    },

    /** A place of the event; 400 naming the field for a taken name or an invalid polygon. */
    async createPlace(eventId: number, place: NewPlace): Promise<Place> {
      const [invalid] = await invalidAreas(knex, [place.area]);
      if (invalid) throw refused([{ field: 'area', message: `is not a valid polygon: ${invalid.reason}` }]);
      const taken = () => refused([{ field: 'name', message: `the event already has a place named "${place.name}"` }]);
      if ((await placesNamed(knex, eventId, [place.name])).length) throw taken();
      try {
        return (await insertPlaces(knex, eventId, [place]))[0]!;
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) throw taken();
        throw err;
      }
    },

    /** A session in a place of the event, within the event, overlapping no session in that place. */
    async createSession(eventId: number, session: NewSession): Promise<Session> {
      const event = (await findEventRow(knex, eventId))!;
      const place = await knex<{ id: number; event_id: number }>('place').select('id').where({ event_id: eventId, id: session.place_id }).first();
      if (!place) throw refused([{ field: 'place_id', message: `the event has no place ${session.place_id}` }]);
      const item: TimedItem = { field: '', place_id: session.place_id, starts_at: new Date(session.starts_at), ends_at: new Date(session.ends_at) };
      const outside = outsideEvent(event, item);
      if (outside.length) throw refused(outside);
      const overlap = await firstOverlap(knex, [item]);
      if (overlap) throw refused([overlapError(item, overlap.other)]);
      try {
        return (await insertSessions(knex, eventId, [{ ...session, ...item }]))[0]!;
      } catch (err) {
        // Another request stored an overlapping session meanwhile: name it.
        if (pgCode(err) === EXCLUSION_VIOLATION) {
          const other = await firstOverlap(knex, [item]);
          throw refused([other ? overlapError(item, other.other) : { field: 'starts_at', message: 'overlaps another session in the same place' }]);
        }
        throw err;
      }
    },

    /**
     * A venue in one transaction: places first, then sessions (each in a place of this import or
     * one the event has). Every problem found is a 400 naming its item; nothing is stored then.
     */
    async importVenue(eventId: number, venue: VenueImport): Promise<{ places: Place[]; sessions: Session[] }> {
      const event = (await findEventRow(knex, eventId))!;
      const errors: FieldError[] = [];
      const seen = new Map<string, number>();
      venue.places.forEach((p, i) => {
        const first = seen.get(p.name);
        if (first !== undefined) errors.push({ field: `places.${i}.name`, message: `places.${first} has this name too` });
        else seen.set(p.name, i);
      });
      const names = [...new Set([...seen.keys(), ...venue.sessions.map((s) => s.place)])];
      const existing = new Map((await placesNamed(knex, eventId, names)).map((p) => [p.name, p.id] as const));
      venue.places.forEach((p, i) => {
        if (existing.has(p.name)) errors.push({ field: `places.${i}.name`, message: `the event already has a place named "${p.name}"` });
      });
      for (const { index, reason } of await invalidAreas(
        knex,
        venue.places.map((p) => p.area),
      )) {
        errors.push({ field: `places.${index}.area`, message: `is not a valid polygon: ${reason}` });
      }
      const items = venue.sessions.map((s, i) => ({ field: `sessions.${i}.`, starts_at: new Date(s.starts_at), ends_at: new Date(s.ends_at) }));
      venue.sessions.forEach((s, i) => {
        if (!seen.has(s.place) && !existing.has(s.place))
          errors.push({ field: `sessions.${i}.place`, message: `no place named "${s.place}" in this import or the event` });
        errors.push(...outsideEvent(event, items[i]!));
      });
      // Overlaps within the import: by place, in time order.
      const byPlace = new Map<string, number[]>();
      venue.sessions.forEach((s, i) => byPlace.set(s.place, [...(byPlace.get(s.place) ?? []), i]));
      for (const [name, indexes] of byPlace) {
        indexes.sort((a, b) => items[a]!.starts_at.getTime() - items[b]!.starts_at.getTime() || a - b);
        for (let k = 1; k < indexes.length; k++) {
          const [a, b] = [indexes[k - 1]!, indexes[k]!];
          if (items[b]!.starts_at < items[a]!.ends_at) {
            errors.push({ field: `sessions.${Math.max(a, b)}.starts_at`, message: `overlaps sessions.${Math.min(a, b)} in "${name}" (${span(items[a]!)})` });
          }
        }
      }
      if (errors.length) throw refused(errors);

      // Sessions in places the event already had may overlap stored sessions.
      const stored = venue.sessions.flatMap((s, i) => (existing.has(s.place) ? [{ ...items[i]!, place_id: existing.get(s.place)! }] : []));
      const overlap = await firstOverlap(knex, stored);
      if (overlap) throw refused([overlapError(overlap.item, overlap.other)]);

      try {
        return await knex.transaction(async (trx) => {
          const places = await insertPlaces(trx, eventId, venue.places);
          const ids = new Map([...existing, ...places.map((p) => [p.name, p.id] as const)]);
          const sessions = await insertSessions(
            trx,
            eventId,
            venue.sessions.map((s, i) => ({ ...s, ...items[i]!, place_id: ids.get(s.place)! })),
          );
          return { places, sessions };
        });
      } catch (err) {
        // Another request stored a place of the same name or an overlapping session meanwhile.
        if (pgCode(err) === UNIQUE_VIOLATION)
          throw refused([{ field: 'places', message: 'a place of the same name was stored meanwhile; nothing was stored' }]);
        if (pgCode(err) === EXCLUSION_VIOLATION) {
          const other = await firstOverlap(knex, stored);
          throw refused([
            other
              ? overlapError(other.item, other.other)
              : { field: 'sessions', message: 'a session stored meanwhile overlaps one of these; nothing was stored' },
          ]);
        }
        throw err;
      }
    },
  };
}

export type EventRepository = ReturnType<typeof eventRepository>;
