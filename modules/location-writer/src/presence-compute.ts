/**
 * One person's visits and attendance at one event, from their pings, with the rules of
 * @udaconnect/domain (visitsOf, timeInside, attended, isInside). Pure: presence.ts loads the
 * venue and the pings and stores what this returns.
 *
 * Which places a ping is in: a grid over the venue's bounding box lists, per cell, the places
 * whose bounding box meets the cell; a ping is tested (bounding box, then isInside) only against
 * its cell's places, so a large venue costs about as much per ping as a small one.
 */
import { attended, isInside, timeInside, visitsOf, type GeoPolygon, type PresencePing, type PresenceRules } from '@udaconnect/domain';

export interface VenuePlace {
  id: number;
  area: GeoPolygon;
}

export interface VenueSession {
  id: number;
  placeId: number;
  /** ms since the epoch */
  start: number;
  end: number;
}

/** One ping: when (ms since the epoch) and where. */
export interface PingAt {
  at: number;
  latitude: number;
  longitude: number;
}

export interface VisitRow {
  placeId: number;
  firstSeen: number;
  lastSeen: number;
}

export interface AttendanceRow {
  sessionId: number;
  /** Time inside the session's room during the session (ms). */
  insideMs: number;
}

interface IndexedPlace {
  id: number;
  area: GeoPolygon;
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
  sessions: VenueSession[];
}

/** At most this many cells per side of the grid. */
const MAX_GRID_SIDE = 64;

export class Venue {
  private readonly places: IndexedPlace[];
  private readonly minLon: number;
  private readonly minLat: number;
  private readonly cellLon: number;
  private readonly cellLat: number;
  private readonly side: number;
  /** Per cell (row-major), the indexes of the places whose bounding box meets it. */
  private readonly cells: number[][];

  constructor(places: readonly VenuePlace[], sessions: readonly VenueSession[]) {
    this.places = places.map((p) => {
      let minLon = Infinity;
      let minLat = Infinity;
      let maxLon = -Infinity;
      let maxLat = -Infinity;
      for (const [lon, lat] of p.area.coordinates[0] ?? []) {
        minLon = Math.min(minLon, lon!);
        maxLon = Math.max(maxLon, lon!);
        minLat = Math.min(minLat, lat!);
        maxLat = Math.max(maxLat, lat!);
      }
      return { id: p.id, area: p.area, minLon, minLat, maxLon, maxLat, sessions: [] };
    });
    const byId = new Map(this.places.map((p) => [p.id, p]));
    for (const s of sessions) byId.get(s.placeId)?.sessions.push(s);

    this.minLon = Math.min(...this.places.map((p) => p.minLon));
    this.minLat = Math.min(...this.places.map((p) => p.minLat));
    const maxLon = Math.max(...this.places.map((p) => p.maxLon));
    const maxLat = Math.max(...this.places.map((p) => p.maxLat));
    this.side = this.places.length === 0 ? 0 : Math.max(1, Math.min(MAX_GRID_SIDE, Math.ceil(Math.sqrt(this.places.length))));
    // A degenerate extent (one line) still gets cells of a positive size.
    this.cellLon = Math.max((maxLon - this.minLon) / this.side, 1e-12);
    this.cellLat = Math.max((maxLat - this.minLat) / this.side, 1e-12);
    this.cells = Array.from({ length: this.side * this.side }, () => []);
    this.places.forEach((p, i) => {
      const [c0, r0] = [this.column(p.minLon), this.row(p.minLat)];
      const [c1, r1] = [this.column(p.maxLon), this.row(p.maxLat)];
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) this.cells[r * this.side + c]!.push(i);
    });
  }

  get size(): number {
    return this.places.length;
  }

  private column(lon: number): number {
    return Math.min(this.side - 1, Math.max(0, Math.floor((lon - this.minLon) / this.cellLon)));
  }

  private row(lat: number): number {
    return Math.min(this.side - 1, Math.max(0, Math.floor((lat - this.minLat) / this.cellLat)));
  }

  /** Indexes (into this.places) of the places containing the point. */
  private containing(latitude: number, longitude: number, out: number[]): void {
    if (this.side === 0) return;
    for (const i of this.cells[this.row(latitude) * this.side + this.column(longitude)]!) {
      const p = this.places[i]!;
      if (longitude < p.minLon || longitude > p.maxLon || latitude < p.minLat || latitude > p.maxLat) continue;
      if (isInside(p.area, latitude, longitude)) out.push(i);
    }
  }

  /**
   * The visits that meet the rules and the sessions attended, from one person's pings in time
   * order (all their pings in the event's window, so that a ping covers only until the next one).
   */
  presenceOf(pings: readonly PingAt[], rules: PresenceRules): { visits: VisitRow[]; attendance: AttendanceRow[] } {
    // Per place, the indexes of the pings inside it (ascending).
    const insideOf = new Map<number, number[]>();
    const found: number[] = [];
    pings.forEach((ping, i) => {
      found.length = 0;
      this.containing(ping.latitude, ping.longitude, found);
      for (const p of found) {
        const list = insideOf.get(p);
        if (list) list.push(i);
        else insideOf.set(p, [i]);
      }
    });

    const visits: VisitRow[] = [];
    const attendance: AttendanceRow[] = [];
    for (const [p, indexes] of insideOf) {
      const place = this.places[p]!;
      // The pings inside, each followed by the person's next ping (inside or not): what visitsOf and
      // timeInside read of the full sequence — the next ping ends a cover.
      const sequence: PresencePing[] = [];
      let last = -1;
      for (const i of indexes) {
        if (i !== last) sequence.push({ at: pings[i]!.at, inside: true });
        else sequence[sequence.length - 1]!.inside = true;
        if (i + 1 < pings.length) sequence.push({ at: pings[i + 1]!.at, inside: false });
        last = i + 1;
      }
      for (const v of visitsOf(sequence, rules)) visits.push({ placeId: place.id, firstSeen: v.firstSeen, lastSeen: v.lastSeen });
      for (const s of place.sessions) {
        if (attended(sequence, s.start, s.end, rules)) attendance.push({ sessionId: s.id, insideMs: timeInside(sequence, s.start, s.end, rules) });
      }
    }
    return { visits, attendance };
  }
}
