/**
 * A simulated event whose truth is known, for `npm run bench:meetings`: attendees walk between
 * booths and the lounge and sit in talks, each carrying a phone that pings every few seconds with
 * some GPS noise. Deterministic for a seed. Everything is in local meters (x east, y north) from the
 * venue's centre; `toLatLon` turns them into WGS 84.
 *
 * The truth kept: each attendee's stays (place, from, to), and their true position at every ping
 * (the ping itself adds noise).
 */
import { mulberry32 } from '@udaconnect/domain';
import { createVenue, metersPerDegree, type LatLon } from '../../scripts/simulator/venue';

interface ScenarioPlace {
  name: string;
  kind: 'booth' | 'room' | 'area';
  /** Centre and half side of its square, meters. */
  x: number;
  y: number;
  half: number;
  /** Relative chance of being chosen by a wandering attendee. */
  weight: number;
}

interface ScenarioSession {
  title: string;
  place: number;
  /** Seconds from the event's start. */
  from: number;
  to: number;
}

interface Stay {
  place: number;
  from: number;
  to: number;
}

interface ScenarioPing {
  attendee: number;
  /** Seconds from the event's start. */
  t: number;
  /** True position (meters). */
  x: number;
  y: number;
  /** Reported position: the true one plus noise (meters). */
  nx: number;
  ny: number;
  /** The place the attendee truly is in (index), or -1 while walking. */
  place: number;
}

export interface ScenarioOptions {
  attendees: number;
  /** Length of the event, seconds. */
  durationSeconds: number;
  /** Seconds between two pings of one phone. */
  pingIntervalSeconds: number;
  /** Standard deviation of the GPS noise on each axis, meters. */
  noiseMeters: number;
  seed: number;
}

export interface Scenario {
  places: ScenarioPlace[];
  sessions: ScenarioSession[];
  stays: Stay[][];
  /** Every ping of every attendee, in time order. */
  pings: ScenarioPing[];
  toLatLon(x: number, y: number): LatLon;
  /** The place containing (x, y), or -1 (the squares do not overlap). */
  placeAt(x: number, y: number): number;
}

const SIDE = { talk: 20, booth: 5, lounge: 16 } as const;
const KIND = { talk: 'room', booth: 'booth', lounge: 'area' } as const;
const WALK_SPEED = 1.4;
/** Fidget while standing: amplitude (m). */
const FIDGET = 0.3;
const TALK_MINUTES = 45;

function placeName(id: string): string {
  if (id === 'lounge') return 'Coffee lounge';
  const [kind, ...rest] = id.split('-');
  return kind === 'talk' ? `Talk room ${rest.join('-')}` : `Booth ${rest.join('-')}`;
}

export function createScenario(opts: ScenarioOptions): Scenario {
  const venue = createVenue({ attendees: 1, seed: opts.seed });
  const places: ScenarioPlace[] = venue.pointsOfInterest.map((p) => ({
    name: placeName(p.id),
    kind: KIND[p.kind],
    x: p.x,
    y: p.y,
    half: SIDE[p.kind] / 2,
    weight: p.weight,
  }));
  const rooms = places.map((p, i) => (p.kind === 'room' ? i : -1)).filter((i) => i >= 0);
  const wanderTargets = places.map((p, i) => (p.kind === 'room' ? -1 : i)).filter((i) => i >= 0);
  const totalWeight = wanderTargets.reduce((s, i) => s + places[i]!.weight, 0);

  // Talks: every room holds one talk of 45 minutes each hour, from 10 minutes in.
  const sessions: ScenarioSession[] = [];
  for (let start = 600; start + TALK_MINUTES * 60 <= opts.durationSeconds; start += 3600) {
    for (const room of rooms)
      sessions.push({ title: `Talk ${sessions.length + 1} in ${places[room]!.name}`, place: room, from: start, to: start + TALK_MINUTES * 60 });
  }

  const stays: Stay[][] = [];
  const spots: Array<Array<{ x: number; y: number; phase: number }>> = [];
  for (let a = 0; a < opts.attendees; a++) {
    const rnd = mulberry32((opts.seed * 7919 + a * 104729) >>> 0);
    const uniform = (lo: number, hi: number) => lo + (hi - lo) * rnd();
    const pickWander = (not: number) => {
      for (;;) {
        let r = rnd() * totalWeight;
        for (const i of wanderTargets) {
          r -= places[i]!.weight;
          if (r <= 0) {
            if (i !== not) return i;
            break;
          }
        }
      }
    };
    const mine: Stay[] = [];
    const mySpots: Array<{ x: number; y: number; phase: number }> = [];
    // A spot inside the place, half a meter from its edges at least.
    const spotIn = (p: number) => {
      const pl = places[p]!;
      const m = Math.max(0.1, pl.half - 0.5);
      return { x: pl.x + uniform(-m, m), y: pl.y + uniform(-m, m), phase: uniform(0, 2 * Math.PI) };
    };
    let t = 0;
    let here = pickWander(-1);
    let spot = spotIn(here);
    const goTo = (p: number, from: number) => {
      const s = spotIn(p);
      const walk = Math.hypot(s.x - spot.x, s.y - spot.y) / WALK_SPEED;
      spot = s;
      here = p;
      return { arrive: from + walk, spot: s };
    };
    // Decide, talk slot by talk slot, whether to sit in one; wander booths in between.
    const slots = [...new Set(sessions.map((s) => s.from))];
    let arrive = 0;
    let current = spot;
    for (;;) {
      const nextSlot = slots.find((s) => s > t + 60);
      const attending = nextSlot !== undefined && rnd() < 0.55;
      // The stay where the attendee is now.
      let leave = t + uniform(60, 420);
      if (attending && leave > nextSlot - uniform(60, 240)) leave = Math.max(t + 30, nextSlot - uniform(60, 240));
      if (leave >= opts.durationSeconds) {
        mine.push({ place: here, from: arrive, to: opts.durationSeconds });
        mySpots.push(current);
        break;
      }
      mine.push({ place: here, from: arrive, to: leave });
      mySpots.push(current);
      t = leave;
      if (attending && t > nextSlot - 300) {
        const room = rooms[Math.floor(rnd() * rooms.length)]!;
        const session = sessions.find((s) => s.place === room && s.from === nextSlot)!;
        const walked = goTo(room, t);
        arrive = walked.arrive;
        current = walked.spot;
        // Most stay to the end; some leave early (some before half the talk).
        const stayTo = rnd() < 0.7 ? session.to + uniform(0, 120) : session.from + uniform(5 * 60, 40 * 60);
        t = Math.max(arrive + 30, stayTo);
        if (t >= opts.durationSeconds) {
          mine.push({ place: here, from: arrive, to: opts.durationSeconds });
          mySpots.push(current);
          break;
        }
        mine.push({ place: here, from: arrive, to: t });
        mySpots.push(current);
      }
      const walked = goTo(pickWander(here), t);
      arrive = walked.arrive;
      current = walked.spot;
      if (arrive >= opts.durationSeconds) break;
      t = arrive;
    }
    stays.push(mine);
    spots.push(mySpots);
  }

  // Pings: each phone every pingIntervalSeconds from a random phase; walking between stays in a straight line.
  const pings: ScenarioPing[] = [];
  const noise = mulberry32(opts.seed ^ 0x5bd1e995);
  const gauss = () => {
    const u = Math.max(noise(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * noise());
  };
  for (let a = 0; a < opts.attendees; a++) {
    const mine = stays[a]!;
    const mySpots = spots[a]!;
    let k = 0;
    for (let t = noise() * opts.pingIntervalSeconds; t < opts.durationSeconds; t += opts.pingIntervalSeconds) {
      while (k < mine.length - 1 && mine[k]!.to <= t && mine[k + 1]!.from <= t) k++;
      const stay = mine[k]!;
      let x: number;
      let y: number;
      let place = -1;
      if (t >= stay.from && t < stay.to) {
        const s = mySpots[k]!;
        x = s.x + FIDGET * Math.sin(0.1 * t + s.phase);
        y = s.y + FIDGET * Math.cos(0.1 * t + s.phase);
        place = stay.place;
      } else {
        // Walking from stay k to stay k + 1.
        const from = mySpots[k]!;
        const to = mySpots[k + 1] ?? from;
        const next = mine[k + 1];
        const f = next && next.from > stay.to ? Math.min(1, Math.max(0, (t - stay.to) / (next.from - stay.to))) : 1;
        x = from.x + (to.x - from.x) * f;
        y = from.y + (to.y - from.y) * f;
      }
      pings.push({ attendee: a, t, x, y, nx: x + gauss() * opts.noiseMeters, ny: y + gauss() * opts.noiseMeters, place });
    }
  }
  pings.sort((p, q) => p.t - q.t || p.attendee - q.attendee);

  const per = metersPerDegree(venue.center.latitude);
  const toLatLon = (x: number, y: number): LatLon => ({ latitude: venue.center.latitude + y / per.lat, longitude: venue.center.longitude + x / per.lon });
  const placeAt = (x: number, y: number) => places.findIndex((p) => Math.abs(x - p.x) <= p.half && Math.abs(y - p.y) <= p.half);
  return { places, sessions, stays, pings, toLatLon, placeAt };
}
