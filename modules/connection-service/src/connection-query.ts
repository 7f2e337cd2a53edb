/**
 * The proximity query (docs/contract.md §6): every location L of another person within
 * `distanceMeters` (geodesic, ST_DWithin on geography) of one of the person's own
 * locations M, both inside [start, end), optionally |L.time − M.time| ≤ window.
 *
 * One set-based statement. The person's own pings come from the (person_id, creation_time)
 * btree; each of them probes the GiST index on (coordinate, creation_time) (ST_DWithin's support
 * function turns the join condition into an index condition `coordinate && expand(M, d)`, next to
 * the time range), so the cost grows with the person's pings and the density around them, not
 * with the table. Values are always bound parameters.
 */
import type { Knex } from 'knex';

export interface ConnectionQuery {
  personId: number;
  /** Inclusive. */
  start: Date;
  /** Exclusive. */
  end: Date;
  distanceMeters: number;
  /** Minutes; undefined = no time window. */
  timeWindowMinutes?: number | undefined;
  groupByPerson: boolean;
  /**
   * Also find, for each connection, the closest own location and the distance to it. Off by
   * default: it costs a geodesic distance per matching pair, a sort on it, and four more columns
   * per row, which person-api's REST answer does not use.
   */
  withClosest?: boolean;
}

/** A group_by=person entry lists at most this many meeting points (match_count still counts all). */
const MEETING_POINTS_PER_PERSON = 100;

interface PersonRow {
  id: number;
  firstName: string;
  lastName: string;
  companyName: string;
}

interface LocationRow {
  id: number;
  personId: number;
  latitude: number;
  longitude: number;
  creationTime: Date;
}

interface ConnectionRow {
  person: PersonRow;
  location: LocationRow;
  /** Set when the query asked withClosest. */
  closest?: { distanceMeters: number; ownLocation: LocationRow };
}

interface PersonSummaryRow {
  person: PersonRow;
  firstMet: Date;
  lastMet: Date;
  matchCount: number;
  closestDistanceMeters: number;
  meetingPoints: LocationRow[];
}

export type ConnectionResult =
  { kind: 'connections'; connections: ConnectionRow[] } | { kind: 'people'; people: PersonSummaryRow[] } | { kind: 'unknown-person' };

/**
 * The SQL text and bindings the service runs for `q` (exported so a test can EXPLAIN exactly
 * this statement). Only the statement's shape depends on `q` (time window or not, grouped or
 * not, closest own location or not); every value is a bound parameter.
 */
export function buildConnectionQuery(q: ConnectionQuery): { sql: string; bindings: Knex.RawBinding[] } {
  const bindings: Knex.RawBinding[] = [];
  const bind = (value: Knex.RawBinding, type: string) => {
    bindings.push(value);
    return `?::${type}`;
  };
  const person = () => bind(q.personId, 'int');
  const start = () => bind(q.start, 'timestamptz');
  const end = () => bind(q.end, 'timestamptz');
  const window = () => bind(q.timeWindowMinutes ?? 0, 'int');

  // Called where it appears in the text: `bind` numbers the parameters in order.
  const timeWindow = () =>
    q.timeWindowMinutes === undefined
      ? ''
      : `AND l.creation_time BETWEEN m.creation_time - make_interval(mins => ${window()})
                                AND m.creation_time + make_interval(mins => ${window()})`;

  // `own` is materialised: inlined, the planner (nudged by PostGIS's high function costs
  // towards parallel plans) read the person's pings with a parallel scan of the whole table,
  // which grows with the table. Materialised, they come from the (person_id, creation_time)
  // btree and each probes the GiST index in a nested loop. DISTINCT ON keeps each L once (with
  // withClosest or group_by, with its closest M; ties: the smallest M id).
  const closest = q.withClosest || q.groupByPerson;
  // No parameters in these two, so they may be written before the text that holds them.
  const closestMatch = closest
    ? `,
             ST_Distance(m.coordinate, l.coordinate) AS distance_meters,
             m.id AS own_id, m.coordinate AS own_coordinate, m.creation_time AS own_creation_time`
    : '';
  const closestOutput = q.withClosest
    ? `
           c.distance_meters, c.own_id, ST_Y(c.own_coordinate::geometry) AS own_latitude,
           ST_X(c.own_coordinate::geometry) AS own_longitude, c.own_creation_time,`
    : '';
  const matches = `
    WITH own AS MATERIALIZED (
      SELECT id, coordinate, creation_time
        FROM location
       WHERE person_id = ${person()}
         AND creation_time >= ${start()} AND creation_time < ${end()}
    ),
    matches AS (
      SELECT DISTINCT ON (l.id)
             l.id, l.person_id, l.coordinate, l.creation_time${closestMatch}
        FROM own m
        JOIN location l ON ST_DWithin(l.coordinate, m.coordinate, ${bind(q.distanceMeters, 'float8')})
       WHERE l.person_id <> ${person()}
         AND l.creation_time >= ${start()} AND l.creation_time < ${end()}
         ${timeWindow()}
       ORDER BY l.id${closest ? ', distance_meters, m.id' : ''}
    )`;

  if (!q.groupByPerson) {
    const sql = `${matches}
    SELECT c.id, c.person_id, ST_Y(c.coordinate::geometry) AS latitude, ST_X(c.coordinate::geometry) AS longitude,
           c.creation_time,${closestOutput}
           p.first_name, p.last_name, p.company_name
      FROM matches c
      JOIN person p ON p.id = c.person_id
     ORDER BY c.creation_time, c.id`;
    return { sql, bindings };
  }

  const sql = `${matches},
    ranked AS (
      SELECT c.*, row_number() OVER (PARTITION BY c.person_id ORDER BY c.creation_time, c.id) AS rank
        FROM matches c
    )
    SELECT r.person_id, p.first_name, p.last_name, p.company_name,
           min(r.creation_time) AS first_met, max(r.creation_time) AS last_met,
           count(*) AS match_count, min(r.distance_meters) AS closest_distance_meters,
           json_agg(json_build_object('id', r.id, 'latitude', ST_Y(r.coordinate::geometry), 'longitude', ST_X(r.coordinate::geometry),
                                      'creation_time', r.creation_time)
                    ORDER BY r.creation_time, r.id) FILTER (WHERE r.rank <= ${bind(MEETING_POINTS_PER_PERSON, 'int')}) AS meeting_points
      FROM ranked r
      JOIN person p ON p.id = r.person_id
     GROUP BY r.person_id, p.first_name, p.last_name, p.company_name
     ORDER BY first_met, r.person_id`;
  return { sql, bindings };
}

interface ConnectionDbRow {
  id: number;
  person_id: number;
  latitude: number;
  longitude: number;
  creation_time: Date;
  /** These five only with withClosest. */
  distance_meters: number;
  own_id: number;
  own_latitude: number;
  own_longitude: number;
  own_creation_time: Date;
  first_name: string;
  last_name: string;
  company_name: string;
}

interface PersonSummaryDbRow {
  person_id: number;
  first_name: string;
  last_name: string;
  company_name: string;
  first_met: Date;
  last_met: Date;
  match_count: number;
  closest_distance_meters: number;
  meeting_points: Array<{ id: number; latitude: number; longitude: number; creation_time: string }>;
}

const personOf = (r: { person_id: number; first_name: string; last_name: string; company_name: string }): PersonRow => ({
  id: r.person_id,
  firstName: r.first_name,
  lastName: r.last_name,
  companyName: r.company_name,
});

/**
 * Session settings for the connections that run these queries (connection-service's pool; the
 * benchmark's too), set once per connection rather than per query, so a query is one round trip:
 * - jit off: PostGIS declares its functions expensive, so the planner's cost estimate for a few
 *   hundred own pings passes jit_above_cost and PostgreSQL spends ~150 ms compiling expressions
 *   for a query that runs in milliseconds. JIT does not change the plan, only how it runs.
 * - random_page_cost 1.1 (SSD, pages mostly cached) instead of the default 4: with 4, the planner
 *   joined a few hundred matches to person by reading all of person (merge or hash join, ~3 ms)
 *   rather than one primary-key look-up per match (~0.5 ms in all). Set by the service, not only
 *   in the server's configuration, so the plan is the same on any PostgreSQL it is given.
 */
export const CONNECTION_SESSION_SETTINGS = { jit: 'off', random_page_cost: 1.1 } as const;

/**
 * Runs the query (one statement; connections should carry CONNECTION_SESSION_SETTINGS). An
 * empty answer is followed by a primary-key look-up, so an unknown person is told apart from one
 * without connections, with no extra query in the common case (connections found: the person
 * exists).
 */
export async function findConnections(knex: Knex, q: ConnectionQuery): Promise<ConnectionResult> {
  const { sql, bindings } = buildConnectionQuery(q);
  const { rows } = await knex.raw<{ rows: unknown[] }>(sql, bindings);
  if (rows.length === 0 && !(await knex('person').where({ id: q.personId }).first('id'))) return { kind: 'unknown-person' };

  if (q.groupByPerson) {
    return {
      kind: 'people',
      people: (rows as PersonSummaryDbRow[]).map((r) => ({
        person: personOf(r),
        firstMet: r.first_met,
        lastMet: r.last_met,
        matchCount: r.match_count,
        closestDistanceMeters: r.closest_distance_meters,
        meetingPoints: r.meeting_points.map((l) => ({
          id: l.id,
          personId: r.person_id,
          latitude: l.latitude,
          longitude: l.longitude,
          creationTime: new Date(l.creation_time),
        })),
      })),
    };
  }

  return {
    kind: 'connections',
    connections: (rows as ConnectionDbRow[]).map((r) => ({
      person: personOf(r),
      location: { id: r.id, personId: r.person_id, latitude: r.latitude, longitude: r.longitude, creationTime: r.creation_time },
      ...(q.withClosest && {
        closest: {
          distanceMeters: r.distance_meters,
          ownLocation: { id: r.own_id, personId: q.personId, latitude: r.own_latitude, longitude: r.own_longitude, creationTime: r.own_creation_time },
        },
      }),
    })),
  };
}
