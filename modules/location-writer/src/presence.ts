/**
 * Presence: visits and attendance derived from the pings as they arrive (docs/architecture.md, "Where presence and
 * meetings come from").
 *
 * The batch insert queues a mark (presence_dirty: person, first and last ping time) for each
 * person with pings inside some event's window (event-windows.ts), in its own transaction. Every
 * PRESENCE_INTERVAL_MS a run, on one pooled connection holding a session-level advisory lock (one
 * writer replica at a time, the others skip), reads the oldest marks, and for each of their
 * persons and each event whose window [starts_at - cover, ends_at] a mark meets, computes the
 * person's visits and attendance again from all their pings in that window (presence-compute.ts),
 * then in one transaction per group of persons replaces what changed in `visit` and `attendance`
 * and deletes exactly the marks it read. Recomputing from every ping makes replays and re-sent
 * pings change nothing and folds late pings in; a run that fails (the database down) leaves the
 * marks, and the next run does the work.
 *
 * Skipped on purpose: persons that no longer exist (erased: their marks are deleted, their rows
 * went with them) and events whose window starts before the retention cutoff (some of their pings
 * may already be deleted: what was derived stays as it is).
 */
import { performance } from 'node:perf_hooks';
import { periodicRuns, withOneConnection, type Knex, type Logger, type OneConnection } from '@udaconnect/common';
import type { GeoPolygon, PresenceRules } from '@udaconnect/domain';
import { EVENT_WINDOWS_MAX_AGE_MS } from './event-windows';
import type { PresenceMetrics } from './metrics';
import { Venue, type PingAt, type VenueSession } from './presence-compute';

/** Key of the advisory lock a run holds, the same in every replica. */
export const PRESENCE_LOCK_KEY = 4_207_315_002;

/** Persons whose pings one query reads and whose rows one transaction replaces, unless the settings say otherwise. */
const PERSONS_PER_TRANSACTION = 100;
/** Marks read per run: this many per person of the run's limit (one person's several marks count once against it). */
const MARK_ROWS_PER_PERSON = 5;

export interface PresenceSettings {
  rules: PresenceRules;
  /** Persons one run recomputes, at most. */
  personsPerRun: number;
  /** Days pings are kept (RETENTION_DAYS); 0 keeps them forever. */
  retentionDays: number;
  /** Persons per ping query and per transaction (100). */
  personsPerTransaction?: number;
}

interface EventRow {
  id: number;
  start: number;
  end: number;
  /** Changes when a place or session of the event is added, changed or removed (counts and xmins). */
  venue: string;
}

export interface PresenceRunResult {
  locked: boolean;
  /** Marks read and deleted. */
  marks: number;
  /** Persons recomputed (erased ones excluded). */
  persons: number;
  /** Persons whose marks were dropped because they no longer exist. */
  erased: number;
  /** (person, event) pairs recomputed. */
  pairs: number;
  /** Visits and attendance rows found (stored now or unchanged). */
  visits: number;
  attendance: number;
  /** Rows of visit and attendance deleted and inserted: what changed. */
  rowsDeleted: number;
  rowsInserted: number;
  /** Age of the oldest mark read (s); 0 when none was waiting. */
  queueAgeSeconds: number;
}

const noWork = (locked: boolean): PresenceRunResult => ({
  locked,
  marks: 0,
  persons: 0,
  erased: 0,
  pairs: 0,
  visits: 0,
  attendance: 0,
  rowsDeleted: 0,
  rowsInserted: 0,
  queueAgeSeconds: 0,
});

type Query = <T>(sql: string, bindings?: readonly Knex.RawBinding[]) => Promise<T[]>;

const queryOn =
  (conn: OneConnection): Query =>
  async <T>(sql: string, bindings: readonly Knex.RawBinding[] = []) =>
    (await conn.query<{ rows: T[] }>(sql, bindings)).rows;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A mark for every person with pings in the window of these events (ids: ?::int[]) or with visits
 * or attendance stored for them; the mark spans the event's window. Bindings: cover (ms), cover, ids.
 */
const MARK_EVENTS_SQL = `INSERT INTO presence_dirty (person_id, since, until)
  SELECT p.person_id, e.starts_at - make_interval(secs => ?::float8 / 1000), e.ends_at
    FROM event e
    CROSS JOIN LATERAL (
      SELECT l.person_id FROM location l WHERE l.creation_time BETWEEN e.starts_at - make_interval(secs => ?::float8 / 1000) AND e.ends_at
      UNION SELECT v.person_id FROM visit v WHERE v.event_id = e.id
      UNION SELECT a.person_id FROM attendance a WHERE a.event_id = e.id
    ) p
   WHERE e.id = ANY(?::int[])`;

/**
 * Queues marks so that the next runs compute again the presence of everyone at these events: for
 * a change of a venue (places, sessions) or of an event's times. Returns the number of marks.
 */
export async function markEventDirty(knex: Knex, eventIds: readonly number[], coverMs: number): Promise<number> {
  if (eventIds.length === 0) return 0;
  const result = await knex.raw<{ rowCount: number | null }>(MARK_EVENTS_SQL, [coverMs, coverMs, [...eventIds]]);
  return result.rowCount ?? 0;
}

/** Venues loaded once and kept while their places and sessions are unchanged (count and xmins). */
class VenueCache {
  private readonly venues = new Map<number, { signature: string; venue: Venue }>();

  /** Forgets the venues of events that no longer exist. */
  keepOnly(eventIds: ReadonlySet<number>): void {
    for (const id of this.venues.keys()) if (!eventIds.has(id)) this.venues.delete(id);
  }

  /** The venues of `events`, each loaded again only when its signature (EventRow.venue) changed. */
  async get(query: Query, events: readonly EventRow[]): Promise<Map<number, Venue>> {
    const signatures = events.map((e) => ({ id: e.id, signature: e.venue }));
    const out = new Map<number, Venue>();
    for (const { id, signature } of signatures) {
      const cached = this.venues.get(id);
      if (cached?.signature === signature) {
        out.set(id, cached.venue);
        continue;
      }
      const places = await query<{ id: number; area: GeoPolygon }>(`SELECT id, ST_AsGeoJSON(area::geometry)::json AS area FROM place WHERE event_id = ?`, [id]);
      const sessions = await query<VenueSession>(
        `SELECT id, place_id AS "placeId", (extract(epoch FROM starts_at) * 1000)::float8 AS start, (extract(epoch FROM ends_at) * 1000)::float8 AS "end"
           FROM session WHERE event_id = ?`,
        [id],
      );
      const venue = new Venue(places, sessions);
      this.venues.set(id, { signature, venue });
      out.set(id, venue);
    }
    return out;
  }
}

/** Events seen by earlier runs: one that appears (or whose times or venue change) is marked whole, later. */
class NewEvents {
  private known: Map<number, string> | undefined;
  private readonly due: Array<{ at: number; ids: number[] }> = [];

  /** `delayMs` lets every writer's event-window cache learn the event before the mark is taken. */
  constructor(private readonly delayMs: number) {}

  /** Remembers `events`; returns the ids whose mark is due now. */
  see(events: readonly EventRow[], now: number): number[] {
    const next = new Map(events.map((e) => [e.id, `${e.start}/${e.end}/${e.venue}`]));
    if (this.known) {
      const changed = events.filter((e) => this.known!.get(e.id) !== next.get(e.id)).map((e) => e.id);
      if (changed.length > 0) this.due.push({ at: now + this.delayMs, ids: changed });
    }
    this.known = next;
    const ready: number[] = [];
    while (this.due.length > 0 && this.due[0]!.at <= now) ready.push(...this.due.shift()!.ids);
    return ready;
  }

  /** Puts ids back (their mark failed). */
  retry(ids: number[], now: number): void {
    if (ids.length > 0) this.due.unshift({ at: now, ids });
  }
}

export interface PresenceWorkerState {
  venues: VenueCache;
  newEvents: NewEvents;
}

/**
 * What runs keep between them. An event that appears is marked `newEventDelayMs` after a run first
 * sees it; by default three cache lifetimes, so that every batch that started with a cache not
 * knowing the event has ended by then.
 */
export function presenceWorkerState(newEventDelayMs = 3 * EVENT_WINDOWS_MAX_AGE_MS): PresenceWorkerState {
  return { venues: new VenueCache(), newEvents: new NewEvents(newEventDelayMs) };
}

/**
 * One run (see the file's comment). Rejects on a database error; what was committed before stays
 * (a group of persons at a time), the rest of the marks wait for the next run.
 */
export async function recomputePresence(
  knex: Knex,
  settings: PresenceSettings,
  state: PresenceWorkerState = presenceWorkerState(),
): Promise<PresenceRunResult> {
  const coverMs = settings.rules.maxCoverMs;
  return withOneConnection(knex, async (conn) => {
    const query = queryOn(conn);

    /**
     * Every run, lock or not: the events, and a mark of the whole of each that appeared once every
     * writer knows it. Read after the marks, so that every mark's event is among them.
     */
    const loadEvents = async () => {
      const events = await query<EventRow>(
        `SELECT e.id, (extract(epoch FROM e.starts_at) * 1000)::float8 AS start, (extract(epoch FROM e.ends_at) * 1000)::float8 AS "end",
                (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM place p WHERE p.event_id = e.id) || '/' ||
                (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM session s WHERE s.event_id = e.id) AS venue
           FROM event e`,
      );
      const dueEvents = state.newEvents.see(events, performance.now());
      state.venues.keepOnly(new Set(events.map((e) => e.id)));
      try {
        if (dueEvents.length > 0) await query(MARK_EVENTS_SQL, [coverMs, coverMs, dueEvents]);
      } catch (err) {
        state.newEvents.retry(dueEvents, performance.now());
        throw err;
      }
      return events;
    };

    const [lock] = await query<{ locked: boolean }>('SELECT pg_try_advisory_lock(?::bigint) AS locked', [PRESENCE_LOCK_KEY]);
    if (lock?.locked !== true) {
      await loadEvents();
      const [oldest] = await query<{ age: number }>('SELECT extract(epoch FROM now() - marked_at)::float8 AS age FROM presence_dirty ORDER BY id LIMIT 1');
      return { ...noWork(false), queueAgeSeconds: Math.max(0, oldest?.age ?? 0) };
    }
    try {
      return await runLocked(query, settings, state, loadEvents, conn);
    } finally {
      // A session that cannot unlock is closed: that releases the lock, and the pool drops it.
      await query('SELECT pg_advisory_unlock(?::bigint)', [PRESENCE_LOCK_KEY]).catch(() => conn.end().catch(() => undefined));
    }
  });
}

async function runLocked(
  query: Query,
  settings: PresenceSettings,
  state: PresenceWorkerState,
  loadEvents: () => Promise<EventRow[]>,
  conn: OneConnection,
): Promise<PresenceRunResult> {
  const { rules, personsPerRun } = settings;
  const coverMs = rules.maxCoverMs;
  const marks = await query<{ id: number; person_id: number; since: number; until: number; age: number; cutoff: number | null }>(
    `SELECT id, person_id, (extract(epoch FROM since) * 1000)::float8 AS since, (extract(epoch FROM until) * 1000)::float8 AS until,
            extract(epoch FROM now() - marked_at)::float8 AS age,
            CASE WHEN ?::int > 0 THEN (extract(epoch FROM now() - make_interval(days => ?::int)) * 1000)::float8 END AS cutoff
       FROM presence_dirty ORDER BY id LIMIT ?::int`,
    [settings.retentionDays, settings.retentionDays, personsPerRun * MARK_ROWS_PER_PERSON],
  );
  const events = await loadEvents();
  const result = noWork(true);
  if (marks.length === 0) return result;
  result.queueAgeSeconds = Math.max(0, marks[0]!.age);
  const cutoff = marks[0]!.cutoff ?? -Infinity;

  // Per person (in the order of their oldest mark, at most personsPerRun): their marks' ids and ranges.
  const byPerson = new Map<number, { ids: number[]; ranges: Array<[number, number]> }>();
  for (const m of marks) {
    let p = byPerson.get(m.person_id);
    if (!p) {
      if (byPerson.size >= personsPerRun) continue;
      byPerson.set(m.person_id, (p = { ids: [], ranges: [] }));
    }
    p.ids.push(m.id);
    p.ranges.push([m.since, m.until]);
  }

  const existing = await query<{ id: number }>('SELECT id FROM person WHERE id = ANY(?::int[])', [[...byPerson.keys()]]);
  const alive = new Set(existing.map((r) => r.id));
  // Events still complete (their window starts after the retention cutoff).
  const open = events.filter((e) => e.start - coverMs >= cutoff);

  // The (person, event) pairs to compute; marks that meet no open event, or of persons gone, are just deleted.
  const work: Array<{ personId: number; eventIds: number[]; markIds: number[] }> = [];
  const dropIds: number[] = [];
  for (const [personId, p] of byPerson) {
    if (!alive.has(personId)) {
      result.erased++;
      dropIds.push(...p.ids);
      continue;
    }
    const eventIds = open.filter((e) => p.ranges.some(([since, until]) => since <= e.end && until >= e.start - coverMs)).map((e) => e.id);
    if (eventIds.length === 0) dropIds.push(...p.ids);
    else work.push({ personId, eventIds, markIds: p.ids });
  }
  if (dropIds.length > 0) {
    await query('DELETE FROM presence_dirty WHERE id = ANY(?::bigint[])', [dropIds]);
    result.marks += dropIds.length;
  }
  if (work.length === 0) return result;

  const wanted = new Set(work.flatMap((w) => w.eventIds));
  const venues = await state.venues.get(
    query,
    events.filter((e) => wanted.has(e.id)),
  );
  const eventById = new Map(events.map((e) => [e.id, e]));
  const groupSize = settings.personsPerTransaction ?? PERSONS_PER_TRANSACTION;
  for (let i = 0; i < work.length; i += groupSize) {
    const chunk = work.slice(i, i + groupSize);
    const found: PresenceRows = { pairs: new Set(), visits: [], attendance: [] };
    for (const eventId of new Set(chunk.flatMap((w) => w.eventIds))) {
      const event = eventById.get(eventId)!;
      const venue = venues.get(eventId)!;
      const personIds = chunk.filter((w) => w.eventIds.includes(eventId)).map((w) => w.personId);
      // No places: nothing to find (what was stored is deleted below).
      const pingsOf = venue.size === 0 ? new Map<number, PingAt[]>() : await pingsInWindow(query, personIds, event.start - coverMs, event.end);
      for (const personId of personIds) {
        found.pairs.add(`${personId}:${eventId}`);
        const presence = venue.presenceOf(pingsOf.get(personId) ?? [], rules);
        for (const v of presence.visits) found.visits.push({ personId, eventId, ...v });
        for (const a of presence.attendance) found.attendance.push({ personId, eventId, sessionId: a.sessionId, seconds: a.insideMs / 1000 });
      }
    }
    const changed = await replace(
      query,
      conn,
      found,
      chunk.map((w) => w.personId),
      chunk.flatMap((w) => w.markIds),
    );
    result.persons += chunk.length;
    result.pairs += found.pairs.size;
    result.visits += found.visits.length;
    result.attendance += found.attendance.length;
    result.rowsDeleted += changed.deleted;
    result.rowsInserted += changed.inserted;
    result.marks += chunk.reduce((n, w) => n + w.markIds.length, 0);
  }
  return result;
}

/**
 * The pings of these persons in [from, to] (ms), per person in time order (ties by id), by the
 * (person_id, creation_time) index. Each person's pings come as one text of "ms latitude
 * longitude" triples: about half the time of one row or three arrays per ping, which node-pg
 * parses slowly (float8 text is exact: the shortest form that reads back to the same value).
 */
async function pingsInWindow(query: Query, personIds: number[], from: number, to: number): Promise<Map<number, PingAt[]>> {
  const rows = await query<{ person_id: number; pings: string }>(
    `SELECT person_id,
            string_agg((extract(epoch FROM creation_time) * 1000)::bigint || ' ' || ST_Y(coordinate::geometry) || ' ' || ST_X(coordinate::geometry), ' '
                       ORDER BY creation_time, id) AS pings
       FROM location
      WHERE person_id = ANY(?::int[]) AND creation_time >= ?::timestamptz AND creation_time <= ?::timestamptz
      GROUP BY person_id`,
    [personIds, iso(from), iso(to)],
  );
  const out = new Map<number, PingAt[]>();
  for (const r of rows) {
    const parts = r.pings.split(' ');
    const pings: PingAt[] = new Array<PingAt>(parts.length / 3);
    for (let i = 0, j = 0; j < parts.length; i++, j += 3) pings[i] = { at: Number(parts[j]), latitude: Number(parts[j + 1]), longitude: Number(parts[j + 2]) };
    out.set(r.person_id, pings);
  }
  return out;
}

interface VisitFound {
  personId: number;
  eventId: number;
  placeId: number;
  firstSeen: number;
  lastSeen: number;
}

interface AttendanceFound {
  personId: number;
  eventId: number;
  sessionId: number;
  seconds: number;
}

/** What one group of persons' recomputation found, for the (person, event) pairs in `pairs` ("person:event"). */
interface PresenceRows {
  pairs: Set<string>;
  visits: VisitFound[];
  attendance: AttendanceFound[];
}

/**
 * One transaction: reads what is stored for these persons (by the primary keys' person_id), keeps
 * the rows found again unchanged (no write, no dead tuple), deletes the others of the recomputed
 * (person, event) pairs and inserts the new ones, then deletes the marks.
 */
async function replace(
  query: Query,
  conn: OneConnection,
  found: PresenceRows,
  personIds: number[],
  markIds: number[],
): Promise<{ deleted: number; inserted: number }> {
  const changed = { deleted: 0, inserted: 0 };
  await query('BEGIN');
  try {
    const visitKey = (v: { personId: number; placeId: number; firstSeen: number }) => `${v.personId}:${v.placeId}:${v.firstSeen}`;
    const storedVisits = (
      await query<VisitFound>(
        `SELECT person_id AS "personId", event_id AS "eventId", place_id AS "placeId",
                (extract(epoch FROM first_seen) * 1000)::float8 AS "firstSeen", (extract(epoch FROM last_seen) * 1000)::float8 AS "lastSeen"
           FROM visit WHERE person_id = ANY(?::int[])`,
        [personIds],
      )
    ).filter((v) => found.pairs.has(`${v.personId}:${v.eventId}`));
    const newVisits = new Map(found.visits.map((v) => [visitKey(v), v.lastSeen]));
    const oldVisits = new Map(storedVisits.map((v) => [visitKey(v), v.lastSeen]));
    const staleVisits = storedVisits.filter((v) => newVisits.get(visitKey(v)) !== v.lastSeen);
    const freshVisits = found.visits.filter((v) => oldVisits.get(visitKey(v)) !== v.lastSeen);
    if (staleVisits.length > 0) {
      await query(
        `DELETE FROM visit v USING unnest(?::int[], ?::int[], ?::timestamptz[]) AS d(person_id, place_id, first_seen)
          WHERE v.person_id = d.person_id AND v.place_id = d.place_id AND v.first_seen = d.first_seen`,
        [staleVisits.map((v) => v.personId), staleVisits.map((v) => v.placeId), staleVisits.map((v) => iso(v.firstSeen))],
      );
    }
    if (freshVisits.length > 0) {
      await query(
        `INSERT INTO visit (person_id, event_id, place_id, first_seen, last_seen)
         SELECT * FROM unnest(?::int[], ?::int[], ?::int[], ?::timestamptz[], ?::timestamptz[])`,
        [
          freshVisits.map((v) => v.personId),
          freshVisits.map((v) => v.eventId),
          freshVisits.map((v) => v.placeId),
          freshVisits.map((v) => iso(v.firstSeen)),
          freshVisits.map((v) => iso(v.lastSeen)),
        ],
      );
    }

    const attendanceKey = (a: { personId: number; sessionId: number }) => `${a.personId}:${a.sessionId}`;
    const storedAttendance = (
      await query<AttendanceFound>(
        `SELECT person_id AS "personId", event_id AS "eventId", session_id AS "sessionId", seconds_inside AS seconds FROM attendance WHERE person_id = ANY(?::int[])`,
        [personIds],
      )
    ).filter((a) => found.pairs.has(`${a.personId}:${a.eventId}`));
    const newAttendance = new Map(found.attendance.map((a) => [attendanceKey(a), a.seconds]));
    const oldAttendance = new Map(storedAttendance.map((a) => [attendanceKey(a), a.seconds]));
    const staleAttendance = storedAttendance.filter((a) => newAttendance.get(attendanceKey(a)) !== a.seconds);
    const freshAttendance = found.attendance.filter((a) => oldAttendance.get(attendanceKey(a)) !== a.seconds);
    if (staleAttendance.length > 0) {
      await query(
        `DELETE FROM attendance a USING unnest(?::int[], ?::int[]) AS d(person_id, session_id) WHERE a.person_id = d.person_id AND a.session_id = d.session_id`,
        [staleAttendance.map((a) => a.personId), staleAttendance.map((a) => a.sessionId)],
      );
    }
    if (freshAttendance.length > 0) {
      await query(`INSERT INTO attendance (person_id, event_id, session_id, seconds_inside) SELECT * FROM unnest(?::int[], ?::int[], ?::int[], ?::float8[])`, [
        freshAttendance.map((a) => a.personId),
        freshAttendance.map((a) => a.eventId),
        freshAttendance.map((a) => a.sessionId),
        freshAttendance.map((a) => a.seconds),
      ]);
    }
    changed.deleted = staleVisits.length + staleAttendance.length;
    changed.inserted = freshVisits.length + freshAttendance.length;

    await query('DELETE FROM presence_dirty WHERE id = ANY(?::bigint[])', [markIds]);
    await query('COMMIT');
    return changed;
  } catch (err) {
    // A session that cannot roll back is closed (the pool drops it) rather than returned in a transaction.
    await query('ROLLBACK').catch(() => conn.end().catch(() => undefined));
    throw err;
  }
}

type PresenceRun =
  { outcome: 'off' } | { outcome: 'skipped' | 'completed'; ms: number; result: PresenceRunResult } | { outcome: 'failed'; ms: number; error: Error };

export interface Presence {
  /** Runs now, or joins the run in progress; never rejects. The timer calls it too. */
  runOnce(): Promise<PresenceRun>;
  /** Clears the timer; a run in progress finishes, and is awaited. */
  stop(): Promise<void>;
}

export interface PresenceOptions extends PresenceSettings {
  knex: Knex;
  metrics: PresenceMetrics;
  logger: Logger;
  /** Between the end of a run and the start of the next; 0: no runs. */
  intervalMs: number;
}

/**
 * Schedules the runs. Logs a line at debug level for each run that did work ("presence run" with
 * the counts), and a warning for each that failed.
 */
export function startPresence(opts: PresenceOptions): Presence {
  const { knex, metrics } = opts;
  const logger = opts.logger.child({ component: 'presence' });
  if (opts.intervalMs === 0) {
    logger.info('presence off (PRESENCE_INTERVAL_MS=0): no visits or attendance are derived');
    return { runOnce: () => Promise.resolve({ outcome: 'off' }), stop: () => Promise.resolve() };
  }
  const state = presenceWorkerState();

  const run = async (): Promise<PresenceRun> => {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const result = await recomputePresence(knex, opts, state);
      metrics.setQueueAge(result.queueAgeSeconds);
      const outcome = result.locked ? 'completed' : 'skipped';
      metrics.run(outcome, ms() / 1000, result);
      if (result.marks > 0) {
        const { marks, persons, erased, pairs, visits, attendance, rowsDeleted, rowsInserted, queueAgeSeconds } = result;
        logger.debug({ marks, persons, erased, pairs, visits, attendance, rowsDeleted, rowsInserted, queueAgeSeconds, ms: ms() }, 'presence run');
      }
      return { outcome, ms: ms(), result };
    } catch (err) {
      metrics.run('failed', ms() / 1000);
      logger.warn({ err, ms: ms(), retryInMs: opts.intervalMs }, 'presence run failed; its marks wait for the next run');
      return { outcome: 'failed', ms: ms(), error: err as Error };
    }
  };

  const runs = periodicRuns(run, { intervalMs: opts.intervalMs, firstDelayMs: opts.intervalMs });
  logger.info(
    {
      intervalMs: opts.intervalMs,
      personsPerRun: opts.personsPerRun,
      minVisitMs: opts.rules.minVisitMs,
      maxGapMs: opts.rules.maxGapMs,
      maxCoverMs: opts.rules.maxCoverMs,
    },
    'presence on: visits and attendance are derived from the pings',
  );

  return runs;
}
