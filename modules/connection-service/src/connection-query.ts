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
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { sleep, withOneConnection } from '@udaconnect/common';

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
  /** Which entries (connections, or people with groupByPerson) to return, in the answer's order. Default: all. */
  page?: { limit: number; offset: number };
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

/** `total`: entries of the whole answer (all pages). */
export type ConnectionResult =
  | { kind: 'connections'; connections: ConnectionRow[]; total: number }
  | { kind: 'people'; people: PersonSummaryRow[]; total: number }
  | { kind: 'unknown-person' };

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
         -- Persons who are not discoverable (PATCH /api/persons/{id}) are left out of every answer but their own:
         -- one hashed look-up of the few of them (a partial index), not a join per match.
         AND l.person_id NOT IN (SELECT id FROM person WHERE NOT discoverable)
       ORDER BY l.id${closest ? ', distance_meters, m.id' : ''}
    )`;

  // The page is cut before the join to person; total_count counts every entry (a window over
  // all of them, computed before the LIMIT).
  const limitOffset = () => (q.page ? `LIMIT ${bind(q.page.limit, 'int')} OFFSET ${bind(q.page.offset, 'int')}` : '');
  if (!q.groupByPerson) {
    const sql = `${matches},
    page AS (
      SELECT c.*, count(*) OVER () AS total_count
        FROM matches c
       ORDER BY c.creation_time, c.id
       ${limitOffset()}
    )
    SELECT c.id, c.person_id, ST_Y(c.coordinate::geometry) AS latitude, ST_X(c.coordinate::geometry) AS longitude,
           c.creation_time,${closestOutput}
           p.first_name, p.last_name, p.company_name, c.total_count
      FROM page c
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
           count(*) AS match_count, min(r.distance_meters) AS closest_distance_meters, count(*) OVER () AS total_count,
           json_agg(json_build_object('id', r.id, 'latitude', ST_Y(r.coordinate::geometry), 'longitude', ST_X(r.coordinate::geometry),
                                      'creation_time', r.creation_time)
                    ORDER BY r.creation_time, r.id) FILTER (WHERE r.rank <= ${bind(MEETING_POINTS_PER_PERSON, 'int')}) AS meeting_points
      FROM ranked r
      JOIN person p ON p.id = r.person_id
     GROUP BY r.person_id, p.first_name, p.last_name, p.company_name
     ORDER BY first_met, r.person_id
     ${limitOffset()}`;
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
  total_count: number;
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
  total_count: number;
}

const personOf = (r: { person_id: number; first_name: string; last_name: string; company_name: string }): PersonRow => ({
  id: r.person_id,
  firstName: r.first_name,
  lastName: r.last_name,
  companyName: r.company_name,
});

/**
 * Session settings for the connections that run these queries (connection-service's pool; the
 * benchmark's too), set once per connection rather than per query, so a query is one round trip.
 * - plan_cache_mode force_generic_plan, with the queries sent as named prepared statements
 *   (`prepared` below): each connection plans each statement once. Planned for its values every
 *   time (a custom plan), the proximity query spent 3–25 ms (once 100 ms) in the planner, as long
 *   as it ran, weighing PostGIS's selectivity for each partition of `location` the range
 *   touches; the generic plan has the same shape (one GiST probe per own ping) and prunes the
 *   partitions when it starts, from the bound range (docs/decisions.md). Statements without
 *   parameters are unaffected; others on these pools are look-ups by key.
 * - jit off: PostGIS declares its functions expensive, so the planner's cost estimate for a few
 *   hundred own pings passes jit_above_cost and PostgreSQL spends ~150 ms compiling expressions
 *   for a query that runs in milliseconds. JIT does not change the plan, only how it runs.
 * - random_page_cost 1.1 (SSD, pages mostly cached) instead of the default 4: with 4, the planner
 *   joined a few hundred matches to person by reading all of person (merge or hash join, ~3 ms)
 *   rather than one primary-key look-up per match (~0.5 ms in all). Set by the service, not only
 *   in the server's configuration, so the plan is the same on any PostgreSQL it is given.
 */
export const CONNECTION_SESSION_SETTINGS = { jit: 'off', random_page_cost: 1.1, plan_cache_mode: 'force_generic_plan' } as const;

/** Runs `sql` as a named prepared statement, named after its text (one name per statement shape). */
const prepared = (sql: string) => ({ name: `uc_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}` });

/**
 * Runs the query (one statement; connections should carry CONNECTION_SESSION_SETTINGS). An
 * empty answer is followed by a primary-key look-up, so an unknown person is told apart from one
 * without connections, with no extra query in the common case (connections found: the person
 * exists). A page past the end is followed by the first entry alone, for the total.
 */
export async function findConnections(db: Queryable, q: ConnectionQuery): Promise<ConnectionResult> {
  const { sql, bindings } = buildConnectionQuery(q);
  const { rows } = await db.raw<{ rows: unknown[] }>(sql, bindings, prepared(sql));
  if (rows.length === 0 && q.page && q.page.offset > 0) {
    const first = await findConnections(db, { ...q, page: { limit: 1, offset: 0 } });
    return first.kind === 'connections' ? { ...first, connections: [] } : first.kind === 'people' ? { ...first, people: [] } : first;
  }
  if (rows.length === 0 && !(await db.raw<{ rows: unknown[] }>(PERSON_EXISTS, [q.personId], prepared(PERSON_EXISTS))).rows.length) {
    return { kind: 'unknown-person' };
  }
  const total = rows.length === 0 ? 0 : (rows[0] as { total_count: number }).total_count;

  if (q.groupByPerson) {
    return {
      kind: 'people',
      total,
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
    total,
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

const PERSON_EXISTS = 'SELECT 1 FROM person WHERE id = ?::int';

/**
 * Runs raw SQL: one connection of the pool (withCancellableConnection), which runs a statement
 * given a `name` as a named prepared statement; or the pool itself (knex), which ignores the name.
 */
export interface Queryable {
  raw<R>(sql: string, bindings: Knex.RawBinding[], opts?: { name?: string }): Promise<R>;
}

export interface WorkEstimate {
  /** The person's own pings in the range: one GiST probe each. */
  ownPings: number;
  /** Own pings probed for the estimate. */
  sampled: number;
  /** Matching pairs (own ping, other ping) found around the sampled own pings, each probe counting at most maxPairs / ownPings + 1. */
  sampledPairs: number;
  /** Estimated matching pairs of the whole query: ownPings × sampledPairs / sampled (a lower bound when `capped`). */
  pairs: number;
  /** Some probe stopped at its cap: the real work is larger than `pairs`. */
  capped: boolean;
}

/**
 * What the query would cost, measured before it runs: the person's own pings in the range `n`
 * (from the (person_id, creation_time) btree), and for some of them, spread evenly over the range,
 * the pairs the query would find around each (the same GiST probe), each probe stopped after
 * maxPairs / n + 1 rows: if every probe stops there, n × the mean is above maxPairs. As many
 * probes (4 to 32) as fit in maxPairs / 8 rows, so refusing costs about an eighth of the largest
 * allowed query (a person with a single ping: that one probe, up to maxPairs rows).
 */
export async function estimateWork(db: Queryable, q: ConnectionQuery, maxPairs: number): Promise<WorkEstimate> {
  const bindings: Knex.RawBinding[] = [];
  const bind = (value: Knex.RawBinding, type: string) => {
    bindings.push(value);
    return `?::${type}`;
  };
  const own = `person_id = ${bind(q.personId, 'int')} AND creation_time >= ${bind(q.start, 'timestamptz')} AND creation_time < ${bind(q.end, 'timestamptz')}`;
  // Called where it appears in the text: `bind` numbers the parameters in order.
  const max = () => bind(maxPairs, 'float8');
  const distance = () => bind(q.distanceMeters, 'float8');
  const other = () =>
    `l.person_id <> ${bind(q.personId, 'int')} AND l.creation_time >= ${bind(q.start, 'timestamptz')} AND l.creation_time < ${bind(q.end, 'timestamptz')}`;
  const timeWindow = () =>
    q.timeWindowMinutes === undefined
      ? ''
      : `AND l.creation_time BETWEEN s.creation_time - make_interval(mins => ${bind(q.timeWindowMinutes, 'int')})
                                AND s.creation_time + make_interval(mins => ${bind(q.timeWindowMinutes, 'int')})`;
  const sql = `
    WITH own AS MATERIALIZED (
      SELECT coordinate, creation_time, row_number() OVER (ORDER BY creation_time, id) - 1 AS n
        FROM location
       WHERE ${own}
    ),
    plan AS MATERIALIZED (
      SELECT total, cap, least(32, greatest(4, floor(${max()} / 8 / cap)))::int AS samples
        FROM (SELECT count(*)::int AS total, (ceil(${max()} / greatest(count(*), 1)) + 1)::int AS cap FROM own) t
    ),
    sample AS MATERIALIZED (
      SELECT o.coordinate, o.creation_time FROM own o, plan
       WHERE o.n % greatest(1, ceil(plan.total::float8 / plan.samples))::int = 0
    ),
    probes AS MATERIALIZED (
      SELECT p.hits
        FROM sample s
       CROSS JOIN LATERAL (
         SELECT count(*) AS hits FROM (
           SELECT 1 FROM location l
            WHERE ST_DWithin(l.coordinate, s.coordinate, ${distance()})
              AND ${other()}
              ${timeWindow()}
            LIMIT (SELECT cap FROM plan)
         ) x
       ) p
    )
    SELECT (SELECT total FROM plan) AS own_pings,
           (SELECT count(*) FROM probes)::int AS sampled,
           (SELECT coalesce(sum(hits), 0) FROM probes)::bigint AS sampled_pairs,
           (SELECT count(*) FROM probes WHERE hits >= (SELECT cap FROM plan))::int AS capped`;
  const { rows } = await db.raw<{ rows: Array<{ own_pings: number; sampled: number; sampled_pairs: number | string; capped: number }> }>(
    sql,
    bindings,
    prepared(sql),
  );
  const r = rows[0]!;
  const ownPings = Number(r.own_pings);
  const sampled = Number(r.sampled);
  const sampledPairs = Number(r.sampled_pairs);
  return { ownPings, sampled, sampledPairs, pairs: sampled === 0 ? 0 : Math.round((ownPings * sampledPairs) / sampled), capped: Number(r.capped) > 0 };
}

/**
 * Runs `work` on one connection of the pool, and cancels what that connection runs when
 * `signal` aborts (the gRPC call was cancelled): pg_cancel_backend from a connection of its own,
 * outside the pool, so it works even when every pooled connection is busy. A cancel reaches only
 * the statement the server runs at that moment, so one arriving between two statements (the cost
 * estimate, then the query), or while a statement is still on its way, would be lost: after an abort
 * no new statement starts, and the running one is cancelled again every 250 ms until it ends. The
 * connection is returned to the pool only once the cancelling has stopped, so a late cancel can
 * never hit the next user of the connection.
 */
export async function withCancellableConnection<T>(knex: Knex, signal: AbortSignal | undefined, work: (db: Queryable) => Promise<T>): Promise<T> {
  const cancelled = () => Object.assign(new Error('the call was cancelled'), { code: QUERY_CANCELED });
  return withOneConnection(knex, async (conn) => {
    let statement: Promise<unknown> | undefined;
    let cancelling: Promise<void> | undefined;
    const cancelUntilDone = async () => {
      while (statement) {
        const running = statement;
        await conn.cancel().catch(() => undefined);
        const ended = running.then(
          () => true,
          () => true,
        );
        // Ended: no statement starts after the abort, so nothing is left to cancel.
        if (await Promise.race([ended, sleep(250).then(() => false)])) return;
      }
    };
    const onAbort = () => {
      cancelling ??= cancelUntilDone();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await work({
        raw: async <R>(sql: string, bindings: Knex.RawBinding[], opts?: { name?: string }) => {
          if (signal?.aborted) throw cancelled();
          // A real promise: knex's query is a thenable that runs again on every then().
          const run = Promise.resolve(conn.query<R>(sql, bindings, opts));
          statement = run;
          try {
            return await run;
          } finally {
            statement = undefined;
          }
        },
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await cancelling;
    }
  });
}

/** PostgreSQL's query_canceled: a statement timeout, or pg_cancel_backend. */
export const QUERY_CANCELED = '57014';
