/**
 * The times at which a ping can change someone's presence: each event's [starts_at - cover,
 * ends_at] (a ping shortly before the start covers the first minutes), kept in memory so the
 * batch insert decides without a query which pings to mark for the presence worker. With no
 * event at all, a batch costs nothing extra.
 */
import { performance } from 'node:perf_hooks';
import type { Knex } from '@udaconnect/common';

/** How old the cached windows may be when a batch uses them (ms). */
export const EVENT_WINDOWS_MAX_AGE_MS = 10_000;

/** Sorted, disjoint [start, end] intervals (ms since the epoch, both ends included). */
export class WindowSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(intervals: ReadonlyArray<{ start: number; end: number }>) {
    const sorted = [...intervals].sort((a, b) => a.start - b.start);
    for (const { start, end } of sorted) {
      const last = this.ends.length - 1;
      if (last >= 0 && start <= this.ends[last]!) this.ends[last] = Math.max(this.ends[last]!, end);
      else {
        this.starts.push(start);
        this.ends.push(end);
      }
    }
  }

  get empty(): boolean {
    return this.starts.length === 0;
  }

  contains(at: number): boolean {
    // The last interval starting at or before `at`.
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= at) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found >= 0 && at <= this.ends[found]!;
  }
}

export interface PresenceMarks {
  personIds: number[];
  since: string[];
  until: string[];
}

/**
 * One mark per person with pings inside `windows`: the first and last such ping's time. Every ping
 * given counts, written now or already stored (a replay after a crash between the insert and the
 * recomputation must still lead to one).
 */
export function presenceMarks(pings: ReadonlyArray<{ personId: number; recordedAt?: Date | undefined }>, windows: WindowSet): PresenceMarks {
  const byPerson = new Map<number, { since: number; until: number }>();
  if (windows.empty) return { personIds: [], since: [], until: [] };
  for (const p of pings) {
    const at = p.recordedAt!.getTime();
    if (!windows.contains(at)) continue;
    const m = byPerson.get(p.personId);
    if (!m) byPerson.set(p.personId, { since: at, until: at });
    else {
      if (at < m.since) m.since = at;
      if (at > m.until) m.until = at;
    }
  }
  const marks: PresenceMarks = { personIds: [], since: [], until: [] };
  for (const [personId, m] of byPerson) {
    marks.personIds.push(personId);
    marks.since.push(new Date(m.since).toISOString());
    marks.until.push(new Date(m.until).toISOString());
  }
  return marks;
}

/**
 * The event windows, loaded from `event` when older than maxAgeMs at the moment a batch asks
 * (one small query every 10 s while pings flow; concurrent callers share it). A failed load
 * rejects, like the insert it precedes would: the batch is retried.
 */
export class EventWindows {
  private windows: WindowSet | undefined;
  private loadedAt = -Infinity;
  private loading: Promise<WindowSet> | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly coverMs: number,
    private readonly maxAgeMs = EVENT_WINDOWS_MAX_AGE_MS,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  async current(): Promise<WindowSet> {
    if (this.windows && this.clock() - this.loadedAt < this.maxAgeMs) return this.windows;
    return (this.loading ??= this.load().finally(() => (this.loading = undefined)));
  }

  private async load(): Promise<WindowSet> {
    const askedAt = this.clock();
    const { rows } = await this.knex.raw<{ rows: Array<{ start: number; end: number }> }>(
      `SELECT (extract(epoch FROM starts_at) * 1000)::float8 AS start, (extract(epoch FROM ends_at) * 1000)::float8 AS "end" FROM event`,
    );
    this.windows = new WindowSet(rows.map((r) => ({ start: r.start - this.coverMs, end: r.end })));
    this.loadedAt = askedAt;
    return this.windows;
  }
}
