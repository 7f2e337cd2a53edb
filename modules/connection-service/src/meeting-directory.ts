/**
 * What live meetings need from the database, without a query per ping: the places of current events
 * and the persons who are not discoverable, re-read every few seconds, and the names of the persons
 * met, looked up in one query per batch of meetings and kept for a minute.
 */
import { periodicRuns, type Knex, type Logger, type PeriodicRuns } from '@udaconnect/common';
import type { GeoPolygon, MeetingPlace } from '@udaconnect/domain';

/** Events that ended more than this long ago, or start later than this from now, are not loaded. */
const EVENT_MARGIN = '1 day';
const NAME_TTL_MS = 60_000;
/** Persons whose names are kept at most (the oldest looked-up go first). */
const NAMES_MAX = 50_000;

export interface MeetingPerson {
  id: number;
  firstName: string;
  lastName: string;
  discoverable: boolean;
  /** When the row was read (ms). */
  readAt: number;
}

export class MeetingDirectory {
  private placeList: MeetingPlace[] = [];
  private hidden = new Set<number>();
  /** When the query that read `hidden` was sent. */
  private hiddenReadAt = -Infinity;
  private readonly names = new Map<number, { person: MeetingPerson | undefined; until: number }>();
  private refreshing: Promise<void> | undefined;
  private runs: PeriodicRuns<void> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly refreshMs: number,
    /** Told of each new set of places (the detector thread indexes them and locates meetings with them). */
    private readonly onPlaces: (places: MeetingPlace[]) => void = () => undefined,
  ) {}

  /** The places of current events, as last read (none before the first read). */
  get places(): MeetingPlace[] {
    return this.placeList;
  }

  /**
   * Whether `person` (from persons()) may be announced to others: a row exists (not unknown, not
   * erased) and the person is discoverable, by whichever was read last, the row or the list of
   * persons who are not (re-read every refreshMs).
   */
  announceable(person: MeetingPerson | undefined): person is MeetingPerson {
    if (!person) return false;
    return person.readAt > this.hiddenReadAt ? person.discoverable : !this.hidden.has(person.id);
  }

  /** One read now; rejects when the database cannot be read (the last sets stay in force). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const readAt = Date.now();
        const [places, hidden] = await Promise.all([
          this.knex.raw<{ rows: Array<{ id: number; event_id: number; name: string; area: GeoPolygon; starts_at: Date; ends_at: Date }> }>(
            `SELECT p.id, p.event_id, p.name, ST_AsGeoJSON(p.area, 15)::json AS area, e.starts_at, e.ends_at
               FROM place p JOIN event e ON e.id = p.event_id
              WHERE e.ends_at > now() - interval '${EVENT_MARGIN}' AND e.starts_at < now() + interval '${EVENT_MARGIN}'
              ORDER BY p.id`,
          ),
          // The partial index person_not_discoverable_idx holds just these.
          this.knex.raw<{ rows: Array<{ id: number }> }>('SELECT id FROM person WHERE NOT discoverable'),
        ]);
        const list: MeetingPlace[] = places.rows.map((r) => ({
          id: r.id,
          eventId: r.event_id,
          name: r.name,
          area: r.area,
          startsAt: r.starts_at.getTime(),
          endsAt: r.ends_at.getTime(),
        }));
        this.hidden = new Set(hidden.rows.map((r) => r.id));
        this.hiddenReadAt = readAt;
        this.placeList = list;
        this.onPlaces(list);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Reads every refreshMs from now on (the first read is the caller's: see refresh). */
  start(): void {
    const read = () =>
      this.refresh().catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message }, 'could not re-read places and discoverability; keeping the last ones'),
      );
    this.runs = periodicRuns(read, { intervalMs: this.refreshMs, firstDelayMs: this.refreshMs });
  }

  stop(): void {
    void this.runs?.stop();
  }

  /**
   * The persons with these ids, from memory when looked up in the last minute, else in one query;
   * an id with no row (unknown, or erased) maps to undefined. Rejects when the database is needed and down.
   */
  async persons(ids: Iterable<number>): Promise<Map<number, MeetingPerson | undefined>> {
    const now = Date.now();
    const out = new Map<number, MeetingPerson | undefined>();
    const missing: number[] = [];
    for (const id of new Set(ids)) {
      const cached = this.names.get(id);
      if (cached && cached.until > now) out.set(id, cached.person);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const readAt = Date.now();
    const { rows } = await this.knex.raw<{ rows: Array<{ id: number; first_name: string; last_name: string; discoverable: boolean }> }>(
      'SELECT id, first_name, last_name, discoverable FROM person WHERE id = ANY(?::int[])',
      [missing],
    );
    const found = new Map(rows.map((r) => [r.id, { id: r.id, firstName: r.first_name, lastName: r.last_name, discoverable: r.discoverable, readAt }]));
    for (const id of missing) {
      const person = found.get(id);
      out.set(id, person);
      this.names.delete(id);
      this.names.set(id, { person, until: now + NAME_TTL_MS });
    }
    // A Map iterates in insertion order: the first keys are the oldest looked up.
    for (const id of this.names.keys()) {
      if (this.names.size <= NAMES_MAX) break;
      this.names.delete(id);
    }
    return out;
  }
}
