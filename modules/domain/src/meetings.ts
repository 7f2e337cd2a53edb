/**
 * Live meetings: two persons' pings within `distanceMeters` and `windowMs` of each other
 * are a meeting, told once per pair and place per `cooldownMs`. Pure code, so connection-service's
 * live stream, person-api's meeting count and the tests apply the same rules:
 *
 * - PingGrid: the recent pings of everyone in memory, in cells at least `distanceMeters` wide, so a
 *   ping is compared with the pings of its 3 × 3 cells only, never with a database query.
 * - MeetingCooldown and countMeetings: "once per pair, per place, per cooldown", live and counted.
 * - PlaceIndex: the place of a meeting, the one containing the midpoint of the two pings.
 * - MeetingDetector: the three together, ping by ping.
 */
import { haversineMeters, type LatLon } from './geo';
import { isInside, type GeoPolygon } from './presence';

export interface MeetingRules {
  /** Two pings at most this many geodesic meters apart (inclusive) can make a meeting. */
  distanceMeters: number;
  /** … if their times are at most this many ms apart (inclusive). */
  windowMs: number;
  /** One pair is told about one place once per this many ms (a meeting `cooldownMs` after the last one told is told again). */
  cooldownMs: number;
}

export const DEFAULT_MEETING_RULES: MeetingRules = { distanceMeters: 5, windowMs: 60_000, cooldownMs: 30 * 60_000 };

/** How late (after the log's clock has passed `at + windowMs`) a ping may arrive and still be compared: 60 s by default. */
export const DEFAULT_MEETING_LATE_MS = 60_000;

export interface MeetingPing {
  personId: number;
  latitude: number;
  longitude: number;
  /** When it was recorded (ms since the epoch). */
  at: number;
  /** The client's event id: a ping seen twice (a re-sent batch, a replayed message) is compared once. */
  eventId?: string;
}

/** Mean Earth radius (m), as in haversineMeters. */
const EARTH_RADIUS_METERS = 6_371_008.8;
const DEG = 180 / Math.PI;

/** Degrees of latitude within which every point at most `meters` away lies (d ≥ R·|Δφ|). */
function latitudeReach(meters: number): number {
  return (meters / EARTH_RADIUS_METERS) * DEG;
}

/**
 * Degrees of longitude within which every point at most `meters` away lies, for two points whose
 * latitudes both have a cosine of at least `cosLatitude` (d ≥ 2R·√(cos φ1·cos φ2)·|sin(Δλ/2)|); 360
 * when every longitude is (near a pole).
 */
function longitudeReach(meters: number, cosLatitude: number): number {
  const x = cosLatitude > 0 ? meters / (2 * EARTH_RADIUS_METERS * cosLatitude) : Infinity;
  return x >= 1 ? 360 : 2 * Math.asin(x) * DEG;
}

/**
 * The grid's cells: rows of latitude `cellMeters` high, each cut into as many equal longitude cells
 * as fit while every cell stays at least `cellMeters` wide at the row's poleward neighbour's far edge,
 * so a point within `cellMeters` of another is always in one of its 3 × 3 neighbouring cells, at any
 * latitude (cells widen in degrees toward the poles; rows that touch a pole are one cell) and across
 * the date line (cells wrap around: a row's last cell neighbours its first).
 *
 * Why this holds (haversine on the sphere of radius R): d ≥ R·|Δφ|, so two points within D are at
 * most one row apart; and d ≥ 2R·√(cos φ1·cos φ2)·|sin(Δλ/2)| ≥ 2R·c·|sin(Δλ/2)|, where c is the
 * smallest cosine of latitude over the three rows around the point's row, so
 * |Δλ| ≤ 2·asin(D / 2Rc) ≤ the cell width.
 */
export class GridGeometry {
  /** Row height in degrees of latitude. */
  readonly rowDegrees: number;
  /** The first row a neighbourhood can reach (one below the south pole's), and the most cells a row has (the equator's). */
  private readonly minRow: number;
  private readonly colSpan: number;
  private readonly colsByRow = new Map<number, number>();

  constructor(readonly cellMeters: number) {
    if (!(cellMeters > 0) || !Number.isFinite(cellMeters)) throw new RangeError(`cellMeters must be a positive number, got ${cellMeters}`);
    this.rowDegrees = latitudeReach(cellMeters);
    this.minRow = this.row(-90) - 1;
    this.colSpan = this.cols(0);
    const rows = this.row(90) + 2 - this.minRow;
    // Cells are numbered, not named: a number is hashed and compared far faster than a string, per ping and per neighbour.
    if (rows * this.colSpan > Number.MAX_SAFE_INTEGER) throw new RangeError(`cells of ${cellMeters} m are too small to be numbered exactly`);
  }

  row(latitude: number): number {
    return Math.floor(latitude / this.rowDegrees);
  }

  /** Longitude cells in `row` (1 near the poles, about 8 million at the equator for 5 m). */
  cols(row: number): number {
    let n = this.colsByRow.get(row);
    if (n === undefined) {
      // Two inverse trigonometric calls per row, three rows per ping: remembered (a venue spans a few hundred rows).
      if (this.colsByRow.size >= 65_536) this.colsByRow.clear();
      this.colsByRow.set(row, (n = this.computeCols(row)));
    }
    return n;
  }

  private computeCols(row: number): number {
    const maxAbsLatitude = Math.min(90, Math.max(Math.abs(row - 1), Math.abs(row + 2)) * this.rowDegrees);
    const width = longitudeReach(this.cellMeters, Math.cos(maxAbsLatitude / DEG));
    return width >= 360 ? 1 : Math.max(1, Math.floor(360 / width));
  }

  /** The column of `longitude` (degrees in [-180, 180]; 180 is -180) in a row of `cols` cells. */
  col(longitude: number, cols: number): number {
    return ((Math.floor(((longitude + 180) / 360) * cols) % cols) + cols) % cols;
  }

  /** The number of the cell at `row`, `col` (each cell its own). */
  key(row: number, col: number): number {
    return (row - this.minRow) * this.colSpan + col;
  }

  /** The number of the cell holding the point. */
  cellOf(latitude: number, longitude: number): number {
    const row = this.row(latitude);
    return this.key(row, this.col(longitude, this.cols(row)));
  }

  /** The numbers of the (up to) 9 cells a point within cellMeters of this one can be in, each once. */
  neighbourhood(latitude: number, longitude: number): number[] {
    const out: number[] = [];
    out.length = this.neighbours(latitude, longitude, out);
    return out;
  }

  /** neighbourhood() written into `out` (no allocation, for the per-ping path); returns how many. */
  neighbours(latitude: number, longitude: number, out: number[]): number {
    const row = this.row(latitude);
    let count = 0;
    for (let r = row - 1; r <= row + 1; r++) {
      const n = this.cols(r);
      const c = this.col(longitude, n);
      // Fewer than 3 cells in the row (near a pole): each once.
      for (let dc = -1; dc <= (n >= 3 ? 1 : n - 2); dc++) out[count++] = this.key(r, (((c + dc) % n) + n) % n);
    }
    return count;
  }
}

/** Another person's ping near a new one, and how far apart they are. */
export interface NearbyPing {
  ping: MeetingPing;
  distanceMeters: number;
}

/** A ping held, its coordinates copied out of the caller's object (read per neighbour, one pointer less). */
interface StoredPing {
  personId: number;
  latitude: number;
  longitude: number;
  at: number;
  cell: number;
  ping: MeetingPing;
}

/**
 * The recent pings of everyone, by grid cell. `add` compares a ping with the pings of other persons
 * in its 3 × 3 cells and keeps it. The clock is the log's (`receivedAt`: the Kafka timestamps, never a
 * device's clock, which may run ahead), held back to the newest ping's own time when that is earlier
 * (history written to the log faster than it happened); pings recorded before `now − windowMs −
 * lateMs` are dropped, and a ping that arrives later than that is neither kept nor compared. Pings
 * may arrive in any order within that horizon.
 */
export class PingGrid {
  private readonly geometry: GridGeometry;
  /** Cell number → its pings in time order. */
  private readonly cells = new Map<number, StoredPing[]>();
  /** Pings by floor(at / bucketMs), for eviction in time order whatever the arrival order. */
  private readonly buckets = new Map<number, StoredPing[]>();
  private readonly events = new Set<string>();
  private readonly bucketMs: number;
  private readonly lateMs: number;
  /** Latitude alone puts a ping farther than D beyond this (d ≥ R·|Δφ|): no haversine for it. */
  private readonly maxDeltaLatitude: number;
  /** The neighbourhood of the ping being added (reused: no allocation per ping). */
  private readonly around: number[] = [];
  private count = 0;
  private clock = -Infinity;
  private newestAt = -Infinity;

  constructor(
    private readonly rules: Pick<MeetingRules, 'distanceMeters' | 'windowMs'>,
    opts: { lateMs?: number } = {},
  ) {
    this.geometry = new GridGeometry(rules.distanceMeters);
    this.lateMs = opts.lateMs ?? DEFAULT_MEETING_LATE_MS;
    this.bucketMs = Math.max(1_000, Math.ceil((rules.windowMs + this.lateMs) / 8));
    this.maxDeltaLatitude = latitudeReach(rules.distanceMeters) * (1 + 1e-9);
  }

  /** Pings held. */
  get size(): number {
    return this.count;
  }

  /** The newest `receivedAt` seen. */
  get now(): number {
    return this.clock;
  }

  /** Pings recorded before this are gone (and refused). */
  get horizon(): number {
    return this.clock - this.rules.windowMs - this.lateMs;
  }

  /**
   * Adds `ping`, received at `receivedAt` (ms, the log's clock). Returns every ping of another person
   * within distanceMeters and windowMs of it, by person id, then closest first (ties: the later one);
   * undefined when the ping was not added (older than the horizon, or its event id seen).
   */
  add(ping: MeetingPing, receivedAt: number): NearbyPing[] | undefined {
    const nearby: NearbyPing[] = [];
    if (!this.visit(ping, receivedAt, (other, distanceMeters) => nearby.push({ ping: other, distanceMeters }))) return undefined;
    return nearby.sort((a, b) => a.ping.personId - b.ping.personId || a.distanceMeters - b.distanceMeters || b.ping.at - a.ping.at);
  }

  /**
   * add() without the list: calls `near` for each ping of another person within distanceMeters and
   * windowMs, in no particular order, before `ping` is kept; false when it was not added.
   */
  visit(ping: MeetingPing, receivedAt: number, near: (other: MeetingPing, distanceMeters: number) => void): boolean {
    // The clock is the log's, but never ahead of the newest ping: history played into the log faster
    // than it happened (a backfill, a simulation) is compared in its own time, not all refused as late.
    if (ping.at > this.newestAt) this.newestAt = ping.at;
    this.advance(Math.min(receivedAt, this.newestAt));
    const horizon = this.horizon;
    if (!(ping.at >= horizon)) return false;
    if (ping.eventId) {
      if (this.events.has(ping.eventId)) return false;
      this.events.add(ping.eventId);
    }

    const { latitude, longitude, at, personId } = ping;
    const { distanceMeters, windowMs } = this.rules;
    const maxDeltaLatitude = this.maxDeltaLatitude;
    // Longitude too (d ≥ 2R·√(cos φ1·cos φ2)·|sin(Δλ/2)|, with the smaller cosine of the two latitudes):
    // most pings of the 3 × 3 cells that are too far are left out before any trigonometry.
    const maxDeltaLongitude = longitudeReach(distanceMeters, Math.cos(Math.min(90, Math.abs(latitude) + maxDeltaLatitude) / DEG)) * (1 + 1e-9);
    const from = Math.max(horizon, at - windowMs);
    const last = at + windowMs;
    const around = this.around;
    const n = this.geometry.neighbours(latitude, longitude, around);
    for (let k = 0; k < n; k++) {
      const cell = this.cells.get(around[k]!);
      if (!cell) continue;
      // A cell is in time order: only its pings within the window of this one are read.
      for (let i = firstAtOrAfter(cell, from); i < cell.length; i++) {
        const other = cell[i]!;
        if (other.at > last) break;
        if (other.personId === personId || Math.abs(other.latitude - latitude) > maxDeltaLatitude) continue;
        let dLon = Math.abs(other.longitude - longitude);
        if (dLon > 180) dLon = 360 - dLon;
        if (dLon > maxDeltaLongitude) continue;
        const d = haversineMeters(ping, other);
        if (d <= distanceMeters) near(other.ping, d);
      }
    }

    const stored: StoredPing = { personId, latitude, longitude, at, cell: this.geometry.cellOf(latitude, longitude), ping };
    const cell = this.cells.get(stored.cell);
    if (!cell) this.cells.set(stored.cell, [stored]);
    else if (cell[cell.length - 1]!.at <= at) cell.push(stored);
    else {
      // Out of order: the place is found from the end (pings arrive nearly in time order).
      let i = cell.length;
      while (i > 0 && cell[i - 1]!.at > at) i--;
      cell.splice(i, 0, stored);
    }
    push(this.buckets, Math.floor(at / this.bucketMs), stored);
    this.count++;
    return true;
  }

  /** Moves the clock to `receivedAt` if it is newer, and drops the buckets that are wholly before the horizon. */
  advance(receivedAt: number): void {
    if (!(receivedAt > this.clock)) return;
    this.clock = receivedAt;
    const horizon = this.horizon;
    let cutoff = -Infinity;
    let touched: Set<number> | undefined;
    for (const [bucket, pings] of this.buckets) {
      const end = (bucket + 1) * this.bucketMs;
      if (end > horizon) continue;
      this.buckets.delete(bucket);
      if (end > cutoff) cutoff = end;
      touched ??= new Set<number>();
      for (const p of pings) {
        touched.add(p.cell);
        if (p.ping.eventId) this.events.delete(p.ping.eventId);
      }
      this.count -= pings.length;
    }
    // Every ping of a dropped bucket is older than `cutoff` and every ping kept is not (a kept bucket
    // is a later one): in each cell, the dropped pings are its first ones.
    for (const key of touched ?? []) {
      const cell = this.cells.get(key)!;
      const drop = firstAtOrAfter(cell, cutoff);
      if (drop === cell.length) this.cells.delete(key);
      else cell.splice(0, drop);
    }
  }
}

/** The index of the first ping of `cell` (in time order) recorded at or after `at`. */
function firstAtOrAfter(cell: readonly StoredPing[], at: number): number {
  let lo = 0;
  let hi = cell.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cell[mid]!.at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * "Once per pair per place per cooldown": a pair (in either order) and a place (or none) is told about
 * a meeting at `at` unless it was told about one at a time less than cooldownMs from `at`, before or
 * after (pings can arrive out of order).
 */
export class MeetingCooldown {
  /** Smaller person id → larger person id → place id (-1: none) → times told. Numbers, not string keys: claim runs per matching pair. */
  private readonly told = new Map<number, Map<number, Map<number, number[]>>>();
  private keys = 0;

  constructor(private readonly cooldownMs: number) {}

  /** Pair-and-place keys remembered. */
  get size(): number {
    return this.keys;
  }

  /** True, and remembered, if the pair may be told about a meeting at this place at `at`. */
  claim(personA: number, personB: number, placeId: number | undefined, at: number): boolean {
    const low = Math.min(personA, personB);
    let byHigh = this.told.get(low);
    if (!byHigh) this.told.set(low, (byHigh = new Map<number, Map<number, number[]>>()));
    const high = Math.max(personA, personB);
    let byPlace = byHigh.get(high);
    if (!byPlace) byHigh.set(high, (byPlace = new Map<number, number[]>()));
    const place = placeId ?? -1;
    const times = byPlace.get(place);
    if (times) {
      for (const t of times) if (Math.abs(at - t) < this.cooldownMs) return false;
      times.push(at);
    } else {
      byPlace.set(place, [at]);
      this.keys++;
    }
    return true;
  }

  /** Forgets meetings told before `before` (they can no longer hold back a meeting that can still be detected). */
  prune(before: number): void {
    for (const [low, byHigh] of this.told) {
      for (const [high, byPlace] of byHigh) {
        for (const [place, times] of byPlace) {
          const kept = times.filter((t) => t >= before);
          if (kept.length === 0) {
            byPlace.delete(place);
            this.keys--;
          } else if (kept.length < times.length) byPlace.set(place, kept);
        }
        if (byPlace.size === 0) byHigh.delete(high);
      }
      if (byHigh.size === 0) this.told.delete(low);
    }
  }
}

/** One matching pair of pings of two persons: when (the later ping's time) and where (a place id, or none). */
export interface MeetingMatch {
  at: number;
  placeId?: number | undefined;
}

/**
 * How many meetings two persons had, from every matching pair of their pings (within the distance and
 * the window; in any order), each at the later ping's time and located at the place holding the pair's
 * midpoint: the rule of MeetingDetector, which claims every matching pair too, so over the same pairs
 * and places the count equals the meetings the live stream told when the pings arrived in time order.
 */
export function countMeetings(matches: readonly MeetingMatch[], rules: Pick<MeetingRules, 'cooldownMs'> = DEFAULT_MEETING_RULES): number {
  const cooldown = new MeetingCooldown(rules.cooldownMs);
  let meetings = 0;
  for (const m of [...matches].sort((a, b) => a.at - b.at)) if (cooldown.claim(1, 2, m.placeId, m.at)) meetings++;
  return meetings;
}

/** The point halfway between two nearby points (degrees; across the date line too), longitude in [-180, 180]. */
export function midpoint(a: LatLon, b: LatLon): LatLon {
  let lonA = a.longitude;
  const lonB = b.longitude;
  if (lonA - lonB > 180) lonA -= 360;
  else if (lonB - lonA > 180) lonA += 360;
  let longitude = (lonA + lonB) / 2;
  if (longitude > 180) longitude -= 360;
  else if (longitude < -180) longitude += 360;
  return { latitude: (a.latitude + b.latitude) / 2, longitude };
}

export interface MeetingPlace {
  id: number;
  eventId: number;
  name: string;
  area: GeoPolygon;
  /** The event's window (ms since the epoch), [startsAt, endsAt). */
  startsAt: number;
  endsAt: number;
}

interface IndexedPlace {
  place: MeetingPlace;
  minLat: number;
  maxLat: number;
  minLon: number;
  maxLon: number;
  /** Relative size (square degrees scaled by the cosine of latitude), to prefer the smallest of nested places. */
  size: number;
  /** One outline, no holes, turning one way at every corner. */
  convex: boolean;
}

/**
 * The places of events, to name where a meeting happened. Meetings are located in bulk around each
 * new ping (around() once, then find() per pair), so that a pair costs a comparison or two, not a
 * pass over every place.
 */
export class PlaceIndex {
  private readonly places: IndexedPlace[];

  constructor(places: readonly MeetingPlace[] = []) {
    this.places = places
      .map((place) => {
        const outline = place.area.coordinates[0] ?? [];
        const lons = outline.map((p) => p[0]!);
        const lats = outline.map((p) => p[1]!);
        let twiceArea = 0;
        for (let i = 0; i + 1 < outline.length; i++) twiceArea += outline[i]![0]! * outline[i + 1]![1]! - outline[i + 1]![0]! * outline[i]![1]!;
        const minLat = Math.min(...lats);
        const maxLat = Math.max(...lats);
        const size = (Math.abs(twiceArea) / 2) * Math.cos(((minLat + maxLat) / 2) * (Math.PI / 180));
        const convex = place.area.coordinates.length === 1 && isConvex(outline);
        return { place, minLat, maxLat, minLon: Math.min(...lons), maxLon: Math.max(...lons), size, convex };
      })
      // In order of preference: the first place that contains a point is its place.
      .sort((a, b) => a.size - b.size || a.place.id - b.place.id);
  }

  get size(): number {
    return this.places.length;
  }

  /**
   * The place of an event running at `at` ([startsAt, endsAt)) whose area contains the point (its
   * boundary included); the smallest one when several do (a booth inside a hall), then the lowest id.
   */
  find(point: LatLon, at: number): MeetingPlace | undefined {
    return findIn(this.places, point, at);
  }

  /** The places a point at most `radiusMeters` from `point` can be in: find() for many points near one. */
  around(point: LatLon, radiusMeters: number): PlacesAround {
    const latMargin = latitudeReach(radiusMeters);
    const lonMargin = longitudeReach(radiusMeters, Math.cos(Math.min(90, Math.abs(point.latitude) + latMargin) / DEG));
    const near = this.places.filter(
      (p) =>
        point.latitude >= p.minLat - latMargin &&
        point.latitude <= p.maxLat + latMargin &&
        point.longitude >= p.minLon - lonMargin &&
        point.longitude <= p.maxLon + lonMargin,
    );
    // The most preferred place near, if the whole disk lies in its area: then every point of the
    // disk is in that place (no place more preferred comes near), whenever it is running.
    const first = near[0];
    const whole = first && first.convex && containsDisk(first, point, radiusMeters) ? first : undefined;
    return new PlacesAround(near, whole);
  }
}

/** PlaceIndex.around(): the places near one point. */
export class PlacesAround {
  constructor(
    private readonly near: readonly IndexedPlace[],
    private readonly whole: IndexedPlace | undefined,
  ) {}

  /** PlaceIndex.find() for a point within the radius given to around(). */
  find(point: LatLon, at: number): MeetingPlace | undefined {
    const w = this.whole;
    if (w && at >= w.place.startsAt && at < w.place.endsAt) return w.place;
    return this.near.length === 0 ? undefined : findIn(this.near, point, at);
  }
}

function findIn(places: readonly IndexedPlace[], point: LatLon, at: number): MeetingPlace | undefined {
  for (const p of places) {
    if (at < p.place.startsAt || at >= p.place.endsAt) continue;
    if (point.latitude < p.minLat || point.latitude > p.maxLat || point.longitude < p.minLon || point.longitude > p.maxLon) continue;
    if (isInside(p.place.area, point.latitude, point.longitude)) return p.place;
  }
  return undefined;
}

/** Places larger than this (bounding box diagonal, meters) are never taken as containing a disk: the flat projection below would be too rough. */
const DISK_TEST_MAX_METERS = 2_000;

/**
 * Whether the disk of `radiusMeters` around `center` lies inside the convex, hole-free area of `p`:
 * the centre is inside and every edge is farther than the radius (with 0.1 % + 1 cm to spare for the
 * flat projection around the centre).
 */
function containsDisk(p: IndexedPlace, center: LatLon, radiusMeters: number): boolean {
  const perLat = EARTH_RADIUS_METERS / DEG;
  const perLon = perLat * Math.cos(center.latitude / DEG);
  if (Math.hypot((p.maxLat - p.minLat) * perLat, (p.maxLon - p.minLon) * perLon) > DISK_TEST_MAX_METERS) return false;
  if (!isInside(p.place.area, center.latitude, center.longitude)) return false;
  const ring = p.place.area.coordinates[0]!;
  const needed = radiusMeters * 1.001 + 0.01;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [ax, ay] = [(ring[i]![0]! - center.longitude) * perLon, (ring[i]![1]! - center.latitude) * perLat];
    const [bx, by] = [(ring[i + 1]![0]! - center.longitude) * perLon, (ring[i + 1]![1]! - center.latitude) * perLat];
    // Distance from the origin (the centre) to the segment a–b.
    const [dx, dy] = [bx - ax, by - ay];
    const t = dx === 0 && dy === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / (dx * dx + dy * dy)));
    if (Math.hypot(ax + t * dx, ay + t * dy) < needed) return false;
  }
  return true;
}

/** Whether a closed ring (first point repeated last) turns the same way at every corner. */
function isConvex(ring: ReadonlyArray<readonly number[]>): boolean {
  let sign = 0;
  const n = ring.length - 1;
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [ring[i]!, ring[(i + 1) % n]!, ring[(i + 2) % n]!];
    const cross = (b[0]! - a[0]!) * (c[1]! - b[1]!) - (b[1]! - a[1]!) * (c[0]! - b[0]!);
    if (cross === 0) continue;
    if (sign === 0) sign = Math.sign(cross);
    else if (Math.sign(cross) !== sign) return false;
  }
  return n >= 3;
}

/** MeetingDetector.observe's memory of one other person's pairs within one call. */
interface Decision {
  placeId: number;
  at: number;
  /** The meeting claimed, or undefined when the cooldown held it back. */
  meeting: DetectedMeeting | undefined;
  /** Another place or time of the same person (pings out of order, or pairs on both sides of a wall). */
  next: Decision | undefined;
}

/** A meeting to tell: the earlier-arrived ping `a`, the new ping `b`, and where and when they met. */
export interface DetectedMeeting {
  a: MeetingPing;
  b: MeetingPing;
  /** The later of the two pings' times. */
  at: number;
  distanceMeters: number;
  /** The midpoint of the two pings. */
  latitude: number;
  longitude: number;
  place?: MeetingPlace;
}

/**
 * The grid, the places and the cooldown together: `observe` each ping as it arrives; it returns the
 * meetings to tell now (each pair and place once per cooldown).
 */
export class MeetingDetector {
  readonly grid: PingGrid;
  private readonly cooldown: MeetingCooldown;
  private placeIndex = new PlaceIndex();
  private prunedAt = -Infinity;

  constructor(
    private readonly rules: MeetingRules = DEFAULT_MEETING_RULES,
    opts: { lateMs?: number } = {},
  ) {
    this.grid = new PingGrid(rules, opts);
    this.cooldown = new MeetingCooldown(rules.cooldownMs);
  }

  /** Replaces the places meetings are located in. */
  set places(index: PlaceIndex) {
    this.placeIndex = index;
  }

  get places(): PlaceIndex {
    return this.placeIndex;
  }

  /** Pair-and-place keys whose cooldown is remembered. */
  get cooldownSize(): number {
    return this.cooldown.size;
  }

  /**
   * Adds `ping` and returns the meetings to tell now: every matching pair is claimed, as
   * countMeetings counts them, at the later ping's time and the place of the pair's midpoint; a
   * meeting told carries the closest pair of that person, place and time (ties: the later ping).
   */
  observe(ping: MeetingPing, receivedAt: number): DetectedMeeting[] {
    const meetings: DetectedMeeting[] = [];
    // What was decided for each other person in this call (usually one place and one time for all
    // their pings): the cooldown is asked once, the rest of their pings only compared for distance.
    const decided = new Map<number, Decision>();
    // Every midpoint is within D/2 of this ping.
    let places: PlacesAround | undefined;
    const added = this.grid.visit(ping, receivedAt, (other, distanceMeters) => {
      const at = other.at > ping.at ? other.at : ping.at;
      const middle = midpoint(other, ping);
      places ??= this.placeIndex.around(ping, this.rules.distanceMeters / 2);
      const place = places.find(middle, at);
      const placeId = place ? place.id : -1;
      const first = decided.get(other.personId);
      let d = first;
      while (d && !(d.placeId === placeId && d.at === at)) d = d.next;
      if (!d) {
        const meeting = this.cooldown.claim(other.personId, ping.personId, place?.id, at)
          ? { a: other, b: ping, at, distanceMeters, ...middle, ...(place ? { place } : {}) }
          : undefined;
        decided.set(other.personId, { placeId, at, meeting, next: first });
        if (meeting) meetings.push(meeting);
      } else if (d.meeting && (distanceMeters < d.meeting.distanceMeters || (distanceMeters === d.meeting.distanceMeters && other.at > d.meeting.a.at))) {
        Object.assign(d.meeting, { a: other, distanceMeters, ...middle });
      }
    });
    // A meeting still to be detected is at or after the grid's horizon: older cooldowns cannot matter.
    const keepFrom = this.grid.horizon - this.rules.cooldownMs;
    if (keepFrom - this.prunedAt >= this.rules.cooldownMs / 4) {
      this.cooldown.prune(keepFrom);
      this.prunedAt = keepFrom;
    }
    if (!added) return [];
    return meetings.sort((x, y) => x.a.personId - y.a.personId || x.distanceMeters - y.distanceMeters);
  }
}

/**
 * The clock of a topic read partition by partition: the oldest of the partitions' newest times. A
 * consumer that is behind reads one partition's batch at a time, each holding many seconds of pings;
 * with the newest time of all as the clock, the next partition's pings of the same seconds would be
 * refused as late. A partition with nothing new for `idleMs` of wall time (an empty one) stops holding
 * the clock back.
 */
export class PartitionWatermark {
  private readonly partitions = new Map<number, { at: number; wall: number }>();

  constructor(private readonly idleMs = 10_000) {}

  /** A partition that will be read: it holds the clock back until its first message, or until idle. */
  expect(partition: number, wall: number): void {
    if (!this.partitions.has(partition)) this.partitions.set(partition, { at: -Infinity, wall });
  }

  /** Records a message of `partition` at `at` (ms, its own clock) read at `wall`; returns the topic's clock. */
  observe(partition: number, at: number, wall: number): number {
    const p = this.partitions.get(partition);
    if (!p) this.partitions.set(partition, { at, wall });
    else {
      if (at > p.at) p.at = at;
      p.wall = wall;
    }
    let clock = Infinity;
    for (const q of this.partitions.values()) if (wall - q.wall <= this.idleMs && q.at < clock) clock = q.at;
    return clock;
  }
}
