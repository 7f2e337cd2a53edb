/**
 * Reads of the presence the writer derives from pings (migration 0008: visit, attendance) and the
 * proximity matches behind the meeting counts of GET /api/persons/{id}/shared.
 */
import type { Knex } from '@udaconnect/common';
import type { PlaceRef, SessionRef } from './presence-schemas';

type PlaceRow = { id: number; name: string; kind: PlaceRef['kind'] };
type SessionRow = { id: number; title: string; place_id: number; starts_at: Date; ends_at: Date };

interface PlaceVisited {
  place: PlaceRef;
  firstSeen: Date;
  lastSeen: Date;
  seconds: number;
  visits: number;
}

interface SessionAttended {
  session: SessionRef;
  secondsInside: number;
}

/** Another person's ping near one of the person's own (one row per own ping and other person: the closest). */
interface MeetingMatch {
  otherPersonId: number;
  /** The later of the two pings' times (ms since the epoch): when the meeting could first be known. */
  at: number;
  distanceMeters: number;
  /** Midpoint of the two pings. */
  latitude: number;
  longitude: number;
}

interface SharedRows {
  /** Other persons (discoverable, not this one) with the places both visited. */
  places: Map<number, PlaceRef[]>;
  /** Other persons with the sessions both attended. */
  sessions: Map<number, SessionRef[]>;
}

export interface PresenceRepository {
  placesVisited(personId: number, eventId: number): Promise<PlaceVisited[]>;
  sessionsAttended(personId: number, eventId: number): Promise<SessionAttended[]>;
  shared(personId: number, eventId: number): Promise<SharedRows>;
  /** Pings of discoverable others within `distanceMeters` and `windowMs` of the person's, both inside [start, end). */
  meetingMatches(personId: number, start: Date, end: Date, distanceMeters: number, windowMs: number): Promise<MeetingMatch[]>;
}

const toSession = (r: SessionRow): SessionRef => ({
  id: r.id,
  title: r.title,
  place_id: r.place_id,
  starts_at: r.starts_at.toISOString(),
  ends_at: r.ends_at.toISOString(),
});

/** Appends `item` to the list of `key`. */
function push<K, V>(map: Map<K, V[]>, key: K, item: V) {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

export function presenceRepository(db: Knex): PresenceRepository {
  return {
    async placesVisited(personId, eventId) {
      const { rows } = await db.raw<{ rows: Array<PlaceRow & { first_seen: Date; last_seen: Date; seconds: number; visits: string }> }>(
        `SELECT p.id, p.name, p.kind, min(v.first_seen) AS first_seen, max(v.last_seen) AS last_seen,
                sum(extract(epoch FROM v.last_seen - v.first_seen))::float8 AS seconds, count(*) AS visits
           FROM visit v JOIN place p ON p.id = v.place_id
          WHERE v.person_id = ? AND v.event_id = ?
          GROUP BY p.id ORDER BY min(v.first_seen), p.id`,
        [personId, eventId],
      );
      return rows.map((r) => ({
        place: { id: r.id, name: r.name, kind: r.kind },
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
        seconds: r.seconds,
        visits: Number(r.visits),
      }));
    },

    async sessionsAttended(personId, eventId) {
      const { rows } = await db.raw<{ rows: Array<SessionRow & { seconds_inside: number }> }>(
        `SELECT s.id, s.title, s.place_id, s.starts_at, s.ends_at, a.seconds_inside::float8 AS seconds_inside
           FROM attendance a JOIN session s ON s.id = a.session_id
          WHERE a.person_id = ? AND a.event_id = ?
          ORDER BY s.starts_at, s.id`,
        [personId, eventId],
      );
      return rows.map((r) => ({ session: toSession(r), secondsInside: r.seconds_inside }));
    },

    async shared(personId, eventId) {
      // Persons who opted out of discovery are left out of others' answers (docs/contract.md §6, "Discoverability").
      const [places, sessions] = await Promise.all([
        db.raw<{ rows: Array<PlaceRow & { other: number }> }>(
          `SELECT DISTINCT o.person_id AS other, p.id, p.name, p.kind
             FROM (SELECT DISTINCT place_id FROM visit WHERE person_id = ? AND event_id = ?) mine
             JOIN visit o ON o.event_id = ? AND o.place_id = mine.place_id AND o.person_id <> ?
             JOIN person x ON x.id = o.person_id AND x.discoverable
             JOIN place p ON p.id = mine.place_id
            ORDER BY other, p.name, p.id`,
          [personId, eventId, eventId, personId],
        ),
        db.raw<{ rows: Array<SessionRow & { other: number }> }>(
          `SELECT o.person_id AS other, s.id, s.title, s.place_id, s.starts_at, s.ends_at
             FROM attendance mine
             JOIN attendance o ON o.event_id = mine.event_id AND o.session_id = mine.session_id AND o.person_id <> mine.person_id
             JOIN person x ON x.id = o.person_id AND x.discoverable
             JOIN session s ON s.id = mine.session_id
            WHERE mine.person_id = ? AND mine.event_id = ?
            ORDER BY other, s.starts_at, s.id`,
          [personId, eventId],
        ),
      ]);
      const out: SharedRows = { places: new Map(), sessions: new Map() };
      for (const r of places.rows) push(out.places, r.other, { id: r.id, name: r.name, kind: r.kind });
      for (const r of sessions.rows) push(out.sessions, r.other, toSession(r));
      return out;
    },

    async meetingMatches(personId, start, end, distanceMeters, windowMs) {
      // The GiST index on (coordinate, creation_time) (migration 0002) finds the others' pings; for
      // each own ping and other person only the closest ping is kept, which is all the count needs.
      const { rows } = await db.raw<{ rows: Array<{ other: number; at: Date; distance: number; latitude: number; longitude: number }> }>(
        `SELECT DISTINCT ON (a.id, b.person_id)
                b.person_id AS other, greatest(a.creation_time, b.creation_time) AS at,
                ST_Distance(a.coordinate, b.coordinate) AS distance,
                (ST_Y(a.coordinate::geometry) + ST_Y(b.coordinate::geometry)) / 2 AS latitude,
                (ST_X(a.coordinate::geometry) + ST_X(b.coordinate::geometry)) / 2 AS longitude
           FROM location a
           JOIN location b
             ON ST_DWithin(a.coordinate, b.coordinate, ?)
            AND b.creation_time BETWEEN a.creation_time - ? * interval '1 millisecond' AND a.creation_time + ? * interval '1 millisecond'
            AND b.creation_time >= ? AND b.creation_time < ?
            AND b.person_id <> a.person_id
           JOIN person x ON x.id = b.person_id AND x.discoverable
          WHERE a.person_id = ? AND a.creation_time >= ? AND a.creation_time < ?
          ORDER BY a.id, b.person_id, ST_Distance(a.coordinate, b.coordinate)`,
        [distanceMeters, windowMs, windowMs, start, end, personId, start, end],
      );
      return rows
        .map((r) => ({ otherPersonId: r.other, at: r.at.getTime(), distanceMeters: r.distance, latitude: r.latitude, longitude: r.longitude }))
        .sort((x, y) => x.otherPersonId - y.otherPersonId || x.at - y.at);
    },
  };
}
