/**
 * A conference venue and the attendees walking through it: a pure, deterministic model.
 *
 * The venue is a 200 m × 200 m hall around a real place (Moscone Center, San Francisco).
 * Talk rooms line the north side, an expo floor of booths fills the south, a coffee lounge
 * sits in the middle. Each attendee walks at about 1.4 m/s from one point of interest to
 * the next, chosen by popularity, and stays there for minutes (talks: longer, booths:
 * shorter), standing at a spot within a few meters of the booth or among the seats of a
 * room. So at any moment many attendees stand within a few meters of each other — the
 * situation UdaConnect reports as a connection.
 *
 * Positions are a function of (seed, attendee, time) only; nothing here reads a clock.
 */
import { mulberry32 } from '@udaconnect/domain';

export interface LatLon {
  latitude: number;
  longitude: number;
}

/** Local venue coordinates in meters from the center: x east, y north. */
interface VenuePoint {
  x: number;
  y: number;
}

export interface Position extends LatLon, VenuePoint {}

type PoiKind = 'talk' | 'booth' | 'lounge';

interface PointOfInterest extends VenuePoint {
  id: string;
  kind: PoiKind;
  /** Attendees stand anywhere within this radius of the point (m). */
  radius: number;
  /** How long an attendee stays, uniformly in [min, max] seconds. */
  dwellSeconds: readonly [number, number];
  /** Relative chance of being the next destination. */
  weight: number;
}

export interface VenueOptions {
  attendees: number;
  seed?: number;
  center?: LatLon;
}

export interface Venue {
  readonly center: LatLon;
  /** The venue spans [-halfSize, halfSize] meters on both axes around the center. */
  readonly halfSizeMeters: number;
  readonly pointsOfInterest: readonly PointOfInterest[];
  readonly attendees: number;
  /** Where attendee `index` (0-based) is `seconds` after the start of the simulation (negative → 0). */
  positionAt(index: number, seconds: number): Position;
  toLatLon(p: VenuePoint): LatLon;
}

/** Moscone Center, 747 Howard St, San Francisco. */
export const DEFAULT_CENTER: LatLon = { latitude: 37.7842, longitude: -122.4016 };
const HALF_SIZE_METERS = 100;
/** Walking speeds are drawn in this range (m/s) per leg. */
const WALK_SPEED_RANGE: readonly [number, number] = [1.2, 1.6];
/** Small movements while standing (shifting weight, GPS wobble): amplitude (m) and angular frequency range (rad/s). */
const FIDGET_AMPLITUDE = 0.4;
const FIDGET_OMEGA: readonly [number, number] = [0.05, 0.15];

/** The fixed floor plan, in meters from the center. */
function floorPlan(): PointOfInterest[] {
  const pois: PointOfInterest[] = [];
  // Four talk rooms along the north wall: long stays, many people seated close together.
  [-60, -20, 20, 60].forEach((x, i) => pois.push({ id: `talk-${i + 1}`, kind: 'talk', x, y: 70, radius: 10, dwellSeconds: [10 * 60, 25 * 60], weight: 4 }));
  // Coffee lounge in the middle.
  pois.push({ id: 'lounge', kind: 'lounge', x: 0, y: 30, radius: 6, dwellSeconds: [2 * 60, 8 * 60], weight: 5 });
  // Expo floor: 6 × 4 booths, visitors stand within 2.5 m in front of a booth; a few booths draw crowds.
  const popular = new Set(['booth-2-3', 'booth-4-1', 'booth-5-4']);
  for (let col = 1; col <= 6; col++) {
    for (let row = 1; row <= 4; row++) {
      const id = `booth-${col}-${row}`;
      pois.push({
        id,
        kind: 'booth',
        x: -75 + (col - 1) * 30,
        y: -80 + (row - 1) * 25,
        radius: 2.5,
        dwellSeconds: [60, 6 * 60],
        weight: popular.has(id) ? 3 : 1,
      });
    }
  }
  return pois;
}

/** Meters per degree of latitude and longitude at `latitude` (WGS 84 series; ample for a 200 m venue). */
export function metersPerDegree(latitude: number): { lat: number; lon: number } {
  const phi = (latitude * Math.PI) / 180;
  return {
    lat: 111_132.954 - 559.822 * Math.cos(2 * phi) + 1.175 * Math.cos(4 * phi),
    lon: 111_412.84 * Math.cos(phi) - 93.5 * Math.cos(3 * phi) + 0.118 * Math.cos(5 * phi),
  };
}

/** Mixes two integers into a well-spread 32-bit seed (one independent stream per attendee). */
function mixSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** One piece of an itinerary: moving from `from` to `to` during [t0, t1) (from = to while standing). */
interface Leg {
  t0: number;
  t1: number;
  from: VenuePoint;
  to: VenuePoint;
}

class Attendee {
  private readonly random: () => number;
  private readonly legs: Leg[] = [];
  private poi: PointOfInterest;
  private readonly fidget: { ox: number; oy: number; px: number; py: number };
  private cursor = 0;

  constructor(
    seed: number,
    private readonly pois: readonly PointOfInterest[],
    private readonly totalWeight: number,
  ) {
    this.random = mulberry32(seed);
    const r = this.random;
    this.fidget = { ox: this.between(FIDGET_OMEGA), oy: this.between(FIDGET_OMEGA), px: r() * 2 * Math.PI, py: r() * 2 * Math.PI };
    // At the start everyone is already somewhere, part-way through a stay.
    this.poi = this.pickPoi();
    const spot = this.spotAt(this.poi);
    this.legs.push({ t0: 0, t1: r() * this.between(this.poi.dwellSeconds), from: spot, to: spot });
  }

  positionAt(t: number): VenuePoint {
    while (this.legs[this.legs.length - 1]!.t1 <= t) this.extend();
    // Queries mostly move forward in time: start from the last leg used.
    let i = this.legs[this.cursor]!.t0 <= t ? this.cursor : 0;
    while (this.legs[i]!.t1 <= t) i++;
    this.cursor = i;
    const leg = this.legs[i]!;
    const f = leg.t1 > leg.t0 ? (t - leg.t0) / (leg.t1 - leg.t0) : 1;
    const { ox, oy, px, py } = this.fidget;
    return {
      x: leg.from.x + (leg.to.x - leg.from.x) * f + FIDGET_AMPLITUDE * Math.sin(ox * t + px),
      y: leg.from.y + (leg.to.y - leg.from.y) * f + FIDGET_AMPLITUDE * Math.sin(oy * t + py),
    };
  }

  /** Appends a walk to the next point of interest and the stay there. */
  private extend(): void {
    const last = this.legs[this.legs.length - 1]!;
    let next = this.pickPoi();
    while (next === this.poi) next = this.pickPoi();
    this.poi = next;
    const spot = this.spotAt(next);
    const walk = Math.hypot(spot.x - last.to.x, spot.y - last.to.y) / this.between(WALK_SPEED_RANGE);
    const arrive = last.t1 + walk;
    this.legs.push({ t0: last.t1, t1: arrive, from: last.to, to: spot });
    this.legs.push({ t0: arrive, t1: arrive + this.between(next.dwellSeconds), from: spot, to: spot });
  }

  private pickPoi(): PointOfInterest {
    let x = this.random() * this.totalWeight;
    for (const p of this.pois) {
      x -= p.weight;
      if (x < 0) return p;
    }
    return this.pois[this.pois.length - 1]!;
  }

  /** A uniformly random spot within the point's radius. */
  private spotAt(p: PointOfInterest): VenuePoint {
    const r = p.radius * Math.sqrt(this.random());
    const a = this.random() * 2 * Math.PI;
    return { x: p.x + r * Math.cos(a), y: p.y + r * Math.sin(a) };
  }

  private between([min, max]: readonly [number, number]): number {
    return min + (max - min) * this.random();
  }
}

export function createVenue(opts: VenueOptions): Venue {
  if (!Number.isInteger(opts.attendees) || opts.attendees < 1) throw new RangeError('attendees must be a positive integer');
  const seed = opts.seed ?? 1;
  const center = opts.center ?? DEFAULT_CENTER;
  const pois = floorPlan();
  const totalWeight = pois.reduce((s, p) => s + p.weight, 0);
  const scale = metersPerDegree(center.latitude);
  const people = new Array<Attendee | undefined>(opts.attendees);
  const toLatLon = (p: VenuePoint): LatLon => ({
    latitude: center.latitude + p.y / scale.lat,
    longitude: center.longitude + p.x / scale.lon,
  });
  return {
    center,
    halfSizeMeters: HALF_SIZE_METERS,
    pointsOfInterest: pois,
    attendees: opts.attendees,
    toLatLon,
    positionAt(index, seconds) {
      if (!Number.isInteger(index) || index < 0 || index >= opts.attendees) throw new RangeError(`no attendee ${index}`);
      // Created on first use: a venue for 10,000 attendees costs nothing until they move.
      const person = (people[index] ??= new Attendee(mixSeed(seed, index), pois, totalWeight));
      const p = person.positionAt(Math.max(0, seconds));
      return { ...p, ...toLatLon(p) };
    },
  };
}
