/** The venue model: deterministic walks inside the hall, at walking speed, that bring people within a few meters of each other. */
import { haversineMeters as distanceMeters } from '@udaconnect/domain';
import { createVenue, DEFAULT_CENTER, metersPerDegree, type Position } from '../../scripts/simulator/venue';

const ATTENDEES = 200;
const HOUR = 3600;

const snapshot = (seed: number, seconds: number, attendees = ATTENDEES) => {
  const venue = createVenue({ attendees, seed });
  return Array.from({ length: attendees }, (_, i) => venue.positionAt(i, seconds));
};

describe('determinism', () => {
  it('gives the same positions for the same seed, whatever order they are asked in', () => {
    const a = createVenue({ attendees: 20, seed: 42 });
    const b = createVenue({ attendees: 20, seed: 42 });
    const times = [0, 1, 59.5, 600, 3600, 7200];
    const forward = times.flatMap((t) => Array.from({ length: 20 }, (_, i) => a.positionAt(i, t)));
    // b is asked backwards in time and attendee order: the walks must not depend on the query order.
    const backward = [...times]
      .reverse()
      .flatMap((t) => Array.from({ length: 20 }, (_, i) => [t, 19 - i, b.positionAt(19 - i, t)] as const))
      .sort((x, y) => x[0] - y[0] || x[1] - y[1])
      .map(([, , p]) => p);
    expect(backward).toEqual(forward);
  });

  it('gives different walks for another seed', () => {
    expect(snapshot(2, 300)).not.toEqual(snapshot(1, 300));
  });
});

describe('the venue', () => {
  it('keeps everyone inside the 200 m × 200 m hall around the center for hours', () => {
    const venue = createVenue({ attendees: 60, seed: 3 });
    const scale = metersPerDegree(DEFAULT_CENTER.latitude);
    let farthest = 0;
    let conversionError = 0;
    for (let t = 0; t <= 4 * HOUR; t += 7) {
      for (let i = 0; i < 60; i++) {
        const p = venue.positionAt(i, t);
        farthest = Math.max(farthest, Math.abs(p.x), Math.abs(p.y));
        // The latitude/longitude say the same as the local meters.
        conversionError = Math.max(
          conversionError,
          Math.abs((p.latitude - DEFAULT_CENTER.latitude) * scale.lat - p.y),
          Math.abs((p.longitude - DEFAULT_CENTER.longitude) * scale.lon - p.x),
        );
      }
    }
    expect(farthest).toBeLessThanOrEqual(venue.halfSizeMeters);
    expect(farthest).toBeGreaterThan(50); // they do use the hall
    expect(conversionError).toBeLessThan(1e-6);
  });

  it('places the hall at the real place: a corner is about 141 m from the center', () => {
    const venue = createVenue({ attendees: 1 });
    expect(distanceMeters(venue.center, venue.toLatLon({ x: 100, y: 100 }))).toBeCloseTo(141.4, 0);
  });
});

describe('walking', () => {
  it('never moves faster than a brisk walk (≤ 1.8 m/s over any second), and people do walk', () => {
    const venue = createVenue({ attendees: 40, seed: 5 });
    let fastest = 0;
    let walked = 0;
    for (let i = 0; i < 40; i++) {
      let prev: Position = venue.positionAt(i, 0);
      for (let t = 1; t <= 2 * HOUR; t++) {
        const p = venue.positionAt(i, t);
        const d = distanceMeters(prev, p);
        fastest = Math.max(fastest, d);
        walked += d;
        prev = p;
      }
    }
    expect(fastest).toBeLessThanOrEqual(1.8);
    expect(fastest).toBeGreaterThan(1.1);
    // Over two hours each person covers some hundreds of meters between talks and booths.
    expect(walked / 40).toBeGreaterThan(200);
  });
});

describe('proximity', () => {
  it('brings several people within 5 m of each other in every minute of an hour, and not everyone onto one spot', () => {
    for (let minute = 0; minute <= 60; minute++) {
      const ps = snapshot(11, minute * 60);
      let close = 0;
      let far = 0;
      for (let i = 0; i < ps.length; i++) {
        for (let j = i + 1; j < ps.length; j++) {
          if (distanceMeters(ps[i]!, ps[j]!) <= 5) close++;
          else far++;
        }
      }
      expect(close).toBeGreaterThanOrEqual(10);
      expect(far).toBeGreaterThan(close * 10);
    }
  });

  it('makes the close pairs change over time (people move on to other talks and booths)', () => {
    const pairsAt = (seconds: number) => {
      const ps = snapshot(11, seconds);
      const pairs = new Set<string>();
      for (let i = 0; i < ps.length; i++) for (let j = i + 1; j < ps.length; j++) if (distanceMeters(ps[i]!, ps[j]!) <= 5) pairs.add(`${i}-${j}`);
      return pairs;
    };
    const early = pairsAt(0);
    const late = pairsAt(HOUR);
    const kept = [...late].filter((p) => early.has(p)).length;
    expect(kept).toBeLessThan(late.size / 2);
  });
});
