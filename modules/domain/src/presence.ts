/**
 * The presence rules, as pure functions over one person's pings in time order, so the
 * consumer that derives visits and attendance from Kafka, its tests and the accuracy benchmark all
 * apply the same ones:
 *
 * - visited: consecutive pings inside a place's area, no two more than `maxGapMs` apart (5 min),
 *   spanning at least `minVisitMs` (2 min). Pings outside the area in between do not end the run;
 *   only a gap does (GPS noise puts some pings of a person standing at a 5 m booth outside it:
 *   docs/decisions.md, "A visit ends with a gap, not with a ping outside").
 * - attended: inside a session's room for at least half of the session, where each ping covers the
 *   time until the person's next ping, at most `maxCoverMs` (5 min).
 */
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';

/** A GeoJSON Polygon: rings of [longitude, latitude], the first the outline, the others holes. */
export interface GeoPolygon {
  type: 'Polygon';
  coordinates: number[][][];
}

export interface PresenceRules {
  /** Longest gap between two pings of one visit (ms). */
  maxGapMs: number;
  /** Shortest visit (first to last ping, ms). */
  minVisitMs: number;
  /** Longest time one ping stands for (ms). */
  maxCoverMs: number;
}

export const DEFAULT_PRESENCE_RULES: PresenceRules = { maxGapMs: 5 * 60_000, minVisitMs: 2 * 60_000, maxCoverMs: 5 * 60_000 };

/** One ping: when (ms since the epoch) and whether it lies inside the area in question. */
export interface PresencePing {
  at: number;
  inside: boolean;
}

export interface Visit {
  firstSeen: number;
  lastSeen: number;
}

/** Whether (latitude, longitude) lies inside the polygon; a point on the boundary counts as inside. */
export function isInside(area: GeoPolygon, latitude: number, longitude: number): boolean {
  return booleanPointInPolygon([longitude, latitude], area);
}

/** The visits `pings` (in time order) make to one place. */
export function visitsOf(pings: readonly PresencePing[], rules: PresenceRules = DEFAULT_PRESENCE_RULES): Visit[] {
  const out: Visit[] = [];
  let run: Visit | undefined;
  const close = () => {
    if (run && run.lastSeen - run.firstSeen >= rules.minVisitMs) out.push(run);
    run = undefined;
  };
  for (const p of pings) {
    if (!p.inside) continue;
    if (run && p.at - run.lastSeen > rules.maxGapMs) close();
    if (run) run.lastSeen = p.at;
    else run = { firstSeen: p.at, lastSeen: p.at };
  }
  close();
  return out;
}

/**
 * How long `pings` (in time order) put the person inside during [start, end): each ping inside
 * covers the time until the next ping, at most maxCoverMs; the last one maxCoverMs.
 */
export function timeInside(pings: readonly PresencePing[], start: number, end: number, rules: PresenceRules = DEFAULT_PRESENCE_RULES): number {
  let total = 0;
  for (let i = 0; i < pings.length; i++) {
    const p = pings[i]!;
    if (!p.inside) continue;
    const next = pings[i + 1]?.at ?? Infinity;
    const from = Math.max(p.at, start);
    const to = Math.min(next, p.at + rules.maxCoverMs, end);
    if (to > from) total += to - from;
  }
  return total;
}

/** Whether `pings` attended a session held in [start, end): inside its room for at least half of it. */
export function attended(pings: readonly PresencePing[], start: number, end: number, rules: PresenceRules = DEFAULT_PRESENCE_RULES): boolean {
  return end > start && timeInside(pings, start, end, rules) * 2 >= end - start;
}
