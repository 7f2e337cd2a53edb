/** Live meetings: the grid of recent pings, the cooldown, the meeting count, places and the detector. */
import {
  countMeetings,
  GridGeometry,
  haversineMeters,
  MeetingCooldown,
  MeetingDetector,
  midpoint,
  PartitionWatermark,
  mulberry32,
  PingGrid,
  PlaceIndex,
  type GeoPolygon,
  type MeetingPing,
  type MeetingPlace,
} from '../src';

const SEC = 1_000;
const MIN = 60_000;
const t0 = Date.parse('2026-06-01T09:00:00Z');
/** Meters per degree of latitude on the sphere haversineMeters uses: a north offset of m meters is m meters exactly. */
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const north = (m: number) => m / M_PER_DEG;
/** Degrees of longitude for m meters east at `latitude`. */
const east = (m: number, latitude: number) => m / (M_PER_DEG * Math.cos((latitude * Math.PI) / 180));

const rules = { distanceMeters: 5, windowMs: 60 * SEC, cooldownMs: 30 * MIN };
const ping = (personId: number, latitude: number, longitude: number, at: number, eventId?: string): MeetingPing => ({
  personId,
  latitude,
  longitude,
  at,
  ...(eventId ? { eventId } : {}),
});

describe('GridGeometry: cells at least D wide at every latitude, wrapping at the date line', () => {
  const g = new GridGeometry(5);

  test('rows are 5 m of latitude; a row holds 8,006,045 cells at the equator, half as many at 60°, one at a pole', () => {
    expect(g.rowDegrees).toBeCloseTo(north(5), 15);
    expect(g.cols(0)).toBe(8_006_045);
    expect(g.cols(g.row(60))).toBe(4_003_017);
    expect(g.cols(g.row(89.9999))).toBe(1);
    expect(g.cols(g.row(-90))).toBe(1);
    expect(g.row(90)).toBe(2_001_511);
    expect(g.row(-90)).toBe(-2_001_512);
  });

  test('longitude 180 is longitude -180; the last cell of a row neighbours the first', () => {
    expect(g.cellOf(0, 180)).toBe(g.key(0, 0));
    expect(g.cellOf(0, -180)).toBe(g.key(0, 0));
    expect(g.cellOf(0, 179.99999)).toBe(g.key(0, 8_006_044));
    expect(g.cellOf(0, -179.99999)).toBe(g.key(0, 0));
    expect(g.neighbourhood(0, -179.99999)).toEqual(
      expect.arrayContaining([g.key(0, 8_006_044), g.key(0, 0), g.key(0, 1), g.key(-1, 8_006_044), g.key(1, 8_006_044)]),
    );
    expect(new Set(g.neighbourhood(0, 0)).size).toBe(9);
    // One cell per row near the pole: three rows, each its single cell, each key once.
    expect(g.neighbourhood(89.99999, 10)).toEqual([g.key(2_001_510, 0), g.key(2_001_511, 0), g.key(2_001_512, 0)]);
    expect(g.neighbourhood(-89.99999, 10)).toEqual([g.key(-2_001_513, 0), g.key(-2_001_512, 0), g.key(-2_001_511, 0)]);
  });

  test('cells are numbered, each its own number: neighbouring rows and the ends of a row never collide; too small a cell is refused', () => {
    const keys = new Set<number>();
    for (const row of [-1, 0, 1]) for (const col of [0, 1, g.cols(row) - 1]) keys.add(g.key(row, col));
    keys.add(g.key(-2_001_513, 0)).add(g.key(2_001_512, 0));
    expect(keys.size).toBe(11);
    expect(Number.isSafeInteger(g.key(2_001_512, g.cols(2_001_512) - 1))).toBe(true);
    expect(() => new GridGeometry(0.01)).toThrow(RangeError);
  });

  test('every point within D of another is in its 3 × 3 neighbourhood: 100,000 random pairs, poles and date line included', () => {
    const random = mulberry32(15);
    const latitudes = [0, 45, 60, 80, 89.99, 89.99998, -89.99997, -70, 89.9];
    let within = 0;
    const missed: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const latitude = i % 3 === 0 ? latitudes[i % latitudes.length]! + (random() - 0.5) * 1e-4 : (random() - 0.5) * 180;
      const longitude = i % 2 === 0 ? 180 - random() * 1e-4 : (random() - 0.5) * 360;
      const a = { latitude: Math.max(-90, Math.min(90, latitude)), longitude };
      const bearing = random() * 2 * Math.PI;
      const meters = random() * 5.2;
      let b = {
        latitude: Math.max(-90, Math.min(90, a.latitude + north(meters * Math.cos(bearing)))),
        longitude: a.longitude + east(meters * Math.sin(bearing), Math.min(89.9999, Math.abs(a.latitude))),
      };
      b = { ...b, longitude: ((((b.longitude + 180) % 360) + 360) % 360) - 180 };
      if (haversineMeters(a, b) > 5) continue;
      within++;
      if (!g.neighbourhood(a.latitude, a.longitude).includes(g.cellOf(b.latitude, b.longitude))) missed.push(`${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
    expect(within).toBeGreaterThan(50_000);
    expect(missed).toEqual([]);
  });
});

describe('PingGrid: other persons’ pings within D meters and T seconds', () => {
  const lat = 51.5;
  const lon = -0.12;

  test('a ping 3 m away 30 s later matches, with its distance; 6 m away or 61 s apart does not; a person never meets themself', () => {
    const grid = new PingGrid(rules);
    const a = ping(1, lat, lon, t0);
    expect(grid.add(a, t0)).toEqual([]);
    const near = grid.add(ping(2, lat + north(3), lon, t0 + 30 * SEC), t0 + 30 * SEC);
    expect(near).toHaveLength(1);
    expect(near![0]!.ping).toBe(a);
    expect(near![0]!.distanceMeters).toBeCloseTo(3, 6);
    expect(grid.add(ping(3, lat - north(6), lon, t0 + 30 * SEC), t0 + 30 * SEC)!.map((n) => n.ping.personId)).toEqual([]);
    expect(grid.add(ping(4, lat, lon, t0 + 61 * SEC), t0 + 61 * SEC)!.map((n) => n.ping.personId)).toEqual([2]);
    expect(grid.add(ping(1, lat, lon, t0 + 62 * SEC), t0 + 62 * SEC)!.map((n) => n.ping.personId)).toEqual([2, 4]);
    expect(grid.size).toBe(5);
  });

  test('the limits are inclusive: exactly 60 s and 5 m match; 60.001 s and 5.001 m do not', () => {
    const grid = new PingGrid(rules);
    grid.add(ping(1, lat, lon, t0), t0);
    expect(grid.add(ping(2, lat + north(4.999999), lon, t0 + 60 * SEC), t0)!.map((n) => n.ping.personId)).toEqual([1]);
    expect(grid.add(ping(3, lat, lon, t0 + 60 * SEC + 1), t0)!.map((n) => n.ping.personId)).toEqual([2]);
    expect(grid.add(ping(4, lat - north(5.001), lon, t0), t0)!.map((n) => n.ping.personId)).toEqual([]);
  });

  test('out of order within the horizon: an earlier ping that arrives later still matches; a ping older than the horizon is refused', () => {
    const grid = new PingGrid(rules, { lateMs: 60 * SEC });
    grid.add(ping(1, lat, lon, t0 + 40 * SEC), t0 + 41 * SEC);
    // Recorded 30 s before person 1's, arriving 20 s after it.
    expect(grid.add(ping(2, lat, lon + east(2, lat), t0 + 10 * SEC), t0 + 60 * SEC)!.map((n) => n.ping.personId)).toEqual([1]);
    // The log's clock at t0 + 190 s (a ping of then arrived): the horizon is t0 + 70 s; pings recorded before it are refused, not compared.
    grid.add(ping(5, lat + 1, lon, t0 + 190 * SEC), t0 + 190 * SEC);
    expect(grid.add(ping(3, lat, lon, t0 + 69 * SEC), t0 + 190 * SEC)).toBeUndefined();
    expect(grid.horizon).toBe(t0 + 70 * SEC);
    expect(grid.add(ping(3, lat, lon, t0 + 100 * SEC), t0 + 190 * SEC)).toEqual([]);
  });

  test('history written to the log faster than it happened is compared in its own time, not refused as late', () => {
    const grid = new PingGrid(rules, { lateMs: 60 * SEC });
    // An hour of pings, written to the log in 36 s (100× faster): the clock follows the pings.
    const now = t0 + 2 * 3_600_000;
    for (let s = 0; s < 3600; s += 10) {
      const written = now + s * 10;
      expect(grid.add(ping(1, lat, lon, t0 + s * SEC), written)).toBeDefined();
      const near = grid.add(ping(2, lat, lon + east(1, lat), t0 + (s + 5) * SEC), written + 5)!;
      // Person 1's pings of the last 55 s: all of them still held.
      expect(near.map((n) => n.ping.personId)).toEqual(Array(Math.min(s / 10 + 1, 6)).fill(1));
    }
    expect(grid.horizon).toBe(t0 + 3595 * SEC - 120 * SEC);
    expect(grid.size).toBeLessThan(30);
  });

  test('the horizon follows the log’s clock, not a device’s: a ping dated 5 minutes ahead evicts nothing', () => {
    const grid = new PingGrid(rules);
    grid.add(ping(1, lat, lon, t0), t0);
    grid.add(ping(9, lat + 1, lon, t0 + 5 * MIN), t0 + SEC);
    expect(grid.add(ping(2, lat, lon, t0 + 50 * SEC), t0 + 50 * SEC)!.map((n) => n.ping.personId)).toEqual([1]);
  });

  test('old pings are dropped as the clock moves on; the same event id is compared once', () => {
    const grid = new PingGrid(rules, { lateMs: 60 * SEC });
    for (let i = 0; i < 10; i++) grid.add(ping(i + 1, lat, lon + i, t0 + i * SEC, `e${i}`), t0 + i * SEC);
    expect(grid.size).toBe(10);
    expect(grid.add(ping(1, lat, lon, t0, 'e0'), t0 + 10 * SEC)).toBeUndefined();
    grid.advance(t0 + 10 * MIN);
    expect(grid.size).toBe(0);
    // Its event id was forgotten with it, and it is now too old anyway.
    expect(grid.add(ping(1, lat, lon, t0, 'e0'), t0 + 10 * MIN)).toBeUndefined();
    expect(grid.add(ping(1, lat, lon, t0 + 10 * MIN, 'e0'), t0 + 10 * MIN)).toEqual([]);
  });

  test('eviction drops exactly the pings older than the horizon, in every cell, whatever order they arrived in', () => {
    const grid = new PingGrid(rules, { lateMs: 60 * SEC });
    // Ten persons on one spot and ten 20 m away (another cell), pings 0–170 s, added newest first within each 30 s.
    const spots = [lon, lon + east(20, lat)];
    for (let block = 0; block < 6; block++)
      for (let s = 29; s >= 0; s -= 3)
        for (const [i, spot] of spots.entries()) grid.add(ping(100 + s * 10 + i, lat, spot, t0 + (block * 30 + s) * SEC), t0 + block * 30 * SEC);
    // The last block's clock (150 s) put the horizon at 30 s: the first block's pings (0–29 s) are gone already.
    expect(grid.size).toBe(100);
    // Horizon t0 + 90 s: the buckets (15 s each) wholly before it go.
    grid.advance(t0 + 210 * SEC);
    expect(grid.horizon).toBe(t0 + 90 * SEC);
    expect(grid.size).toBe(60);
    // What is left is compared: a ping at 150 s meets those within 60 s of it on its spot, and nothing older than the horizon.
    const near = grid.add(ping(1, lat, lon, t0 + 150 * SEC), t0 + 210 * SEC)!;
    expect(near.every((n) => n.ping.at >= t0 + 90 * SEC && n.ping.at <= t0 + 210 * SEC && n.ping.longitude === lon)).toBe(true);
    expect(near).toHaveLength(30);
  });

  test('every matching ping, by person, closest first; the detector tells the closest pair', () => {
    const grid = new PingGrid(rules);
    const detector = new MeetingDetector(rules);
    for (const g of [grid, detector]) {
      const add = (p: MeetingPing) => (g instanceof PingGrid ? g.add(p, p.at) : g.observe(p, p.at));
      add(ping(3, lat - north(1), lon, t0));
      add(ping(1, lat + north(4), lon, t0));
      add(ping(1, lat + north(2), lon, t0 + 10 * SEC));
    }
    const near = grid.add(ping(2, lat, lon, t0 + 20 * SEC), t0 + 20 * SEC)!;
    expect(near.map((n) => [n.ping.personId, n.ping.at, Math.round(n.distanceMeters * 1e6) / 1e6])).toEqual([
      [1, t0 + 10 * SEC, 2],
      [1, t0, 4],
      [3, t0, 1],
    ]);
    const told = detector.observe(ping(2, lat, lon, t0 + 20 * SEC), t0 + 20 * SEC);
    expect(told.map((m) => [m.a.personId, m.b.personId, m.at, Math.round(m.distanceMeters * 1e6) / 1e6])).toEqual([
      [1, 2, t0 + 20 * SEC, 2],
      [3, 2, t0 + 20 * SEC, 1],
    ]);
  });

  test('at 60° north cells are twice as wide in degrees: 4.9 m east across a cell border matches, 5.1 m does not', () => {
    const grid = new PingGrid(rules);
    const g = new GridGeometry(5);
    const b = { latitude: 60, longitude: 10 + east(4.9, 60) };
    expect(g.cellOf(60, 10)).not.toBe(g.cellOf(b.latitude, b.longitude));
    grid.add(ping(1, 60, 10, t0), t0);
    const near = grid.add(ping(2, b.latitude, b.longitude, t0), t0)!;
    expect(near.map((n) => n.ping.personId)).toEqual([1]);
    expect(near[0]!.distanceMeters).toBeCloseTo(4.9, 6);
    expect(grid.add(ping(3, 60, 10 - east(5.1, 60), t0), t0)!.map((n) => n.ping.personId)).toEqual([]);
  });

  test('across the date line and at the pole', () => {
    const grid = new PingGrid(rules);
    grid.add(ping(1, -16.5, 179.999_99, t0), t0);
    const near = grid.add(ping(2, -16.5, -179.999_99, t0), t0)!;
    expect(near.map((n) => n.ping.personId)).toEqual([1]);
    expect(near[0]!.distanceMeters).toBeCloseTo(haversineMeters({ latitude: -16.5, longitude: 179.99999 }, { latitude: -16.5, longitude: -179.99999 }), 9);
    expect(near[0]!.distanceMeters).toBeCloseTo(2.132, 3);
    // Two persons 3 m apart on either side of the North Pole (longitudes 0 and 180).
    grid.add(ping(3, 90 - north(1.5), 0, t0), t0);
    expect(grid.add(ping(4, 90 - north(1.5), 180, t0), t0)!.map((n) => [n.ping.personId, Math.round(n.distanceMeters * 1e6) / 1e6])).toEqual([[3, 3]]);
  });
});

describe('MeetingCooldown and countMeetings: once per pair, per place, per cooldown', () => {
  test('a pair is told once per place per 30 minutes, in either order; another place or no place is another key', () => {
    const c = new MeetingCooldown(30 * MIN);
    expect(c.claim(1, 2, 7, t0)).toBe(true);
    expect(c.claim(2, 1, 7, t0 + 29 * MIN)).toBe(false);
    expect(c.claim(1, 2, 8, t0 + MIN)).toBe(true);
    expect(c.claim(1, 2, undefined, t0 + MIN)).toBe(true);
    expect(c.claim(1, 2, undefined, t0 + 2 * MIN)).toBe(false);
    expect(c.claim(1, 3, 7, t0)).toBe(true);
    expect(c.claim(1, 2, 7, t0 + 30 * MIN)).toBe(true);
    // Out of order: 25 minutes before the last one told.
    expect(c.claim(1, 2, 7, t0 + 5 * MIN)).toBe(false);
    expect(c.size).toBe(4);
    c.prune(t0 + 10 * MIN);
    expect(c.size).toBe(1);
    expect(c.claim(1, 2, 8, t0 + 2 * MIN)).toBe(true);
  });

  test('countMeetings counts with the same rule, whatever the order of the matches', () => {
    const at = (m: number, placeId?: number) => ({ at: t0 + m * MIN, placeId });
    const matches = [at(0, 1), at(10, 1), at(29, 1), at(30, 1), at(31, 1), at(65, 1), at(5), at(6), at(12, 2)];
    // Place 1: 0, 30 and 65; no place: 5; place 2: 12.
    expect(countMeetings(matches, { cooldownMs: 30 * MIN })).toBe(5);
    expect(countMeetings([...matches].reverse(), { cooldownMs: 30 * MIN })).toBe(5);
    // 10 minutes: place 1 at 0, 10, 29 and 65.
    expect(countMeetings(matches, { cooldownMs: 10 * MIN })).toBe(6);
    expect(countMeetings([])).toBe(0);
    // The default cooldown is 30 minutes.
    expect(countMeetings(matches)).toBe(5);
  });
});

describe('places: the one containing the midpoint, of an event running then', () => {
  const square = (lat: number, lon: number, halfMeters: number): GeoPolygon => {
    const dy = north(halfMeters);
    const dx = east(halfMeters, lat);
    return {
      type: 'Polygon',
      coordinates: [
        [
          [lon - dx, lat - dy],
          [lon + dx, lat - dy],
          [lon + dx, lat + dy],
          [lon - dx, lat + dy],
          [lon - dx, lat - dy],
        ],
      ],
    };
  };
  const lat = 48.2;
  const lon = 16.37;
  const event = { eventId: 3, startsAt: t0, endsAt: t0 + 8 * 3_600_000 };
  const hall: MeetingPlace = { id: 10, name: 'Hall', area: square(lat, lon, 50), ...event };
  const booth: MeetingPlace = { id: 11, name: 'Booth 3', area: square(lat, lon + east(20, lat), 3), ...event };
  const later: MeetingPlace = { id: 12, name: 'Tomorrow', area: square(lat, lon, 50), eventId: 4, startsAt: t0 + 86_400_000, endsAt: t0 + 2 * 86_400_000 };
  const places = new PlaceIndex([hall, later, booth]);

  test('the smallest place containing the point, during its event; none outside or outside the event’s window', () => {
    expect(places.size).toBe(3);
    expect(places.find({ latitude: lat, longitude: lon + east(20, lat) }, t0)?.name).toBe('Booth 3');
    expect(places.find({ latitude: lat, longitude: lon + east(10, lat) }, t0)?.name).toBe('Hall');
    expect(places.find({ latitude: lat + north(60), longitude: lon }, t0)).toBeUndefined();
    expect(places.find({ latitude: lat, longitude: lon }, t0 - 1)).toBeUndefined();
    expect(places.find({ latitude: lat, longitude: lon }, t0 + 8 * 3_600_000)).toBeUndefined();
    expect(places.find({ latitude: lat, longitude: lon }, t0 + 86_400_000)?.name).toBe('Tomorrow');
  });

  test('around(): the places near a point give find()’s answer for every point within the radius (20,000 random points; nested, concave, holed, timed places)', () => {
    // An L-shaped (concave) lounge and a room with a pillar (a hole) beside the hall's booth.
    const dx = (m: number) => east(m, lat);
    const lounge: MeetingPlace = {
      id: 14,
      name: 'Lounge',
      area: {
        type: 'Polygon',
        coordinates: [
          [
            [lon - dx(30), lat - north(30)],
            [lon - dx(10), lat - north(30)],
            [lon - dx(10), lat - north(24)],
            [lon - dx(24), lat - north(24)],
            [lon - dx(24), lat - north(10)],
            [lon - dx(30), lat - north(10)],
            [lon - dx(30), lat - north(30)],
          ],
        ],
      },
      ...event,
    };
    const pillared: MeetingPlace = {
      id: 15,
      name: 'Pillared room',
      area: { type: 'Polygon', coordinates: [square(lat + north(20), lon, 8).coordinates[0]!, square(lat + north(20), lon, 1).coordinates[0]!] },
      ...event,
    };
    const brief: MeetingPlace = {
      id: 16,
      name: 'Pop-up',
      area: square(lat - north(20), lon + dx(20), 6),
      eventId: 5,
      startsAt: t0 + 30 * MIN,
      endsAt: t0 + 40 * MIN,
    };
    const index = new PlaceIndex([hall, later, booth, lounge, pillared, brief]);
    const random = mulberry32(3);
    const radius = 2.5;
    let shortcut = 0;
    const differ: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const centre = { latitude: lat + north((random() - 0.5) * 120), longitude: lon + dx((random() - 0.5) * 120) };
      const around = index.around(centre, radius);
      if ((around as unknown as { whole?: unknown }).whole) shortcut++;
      for (let j = 0; j < 10; j++) {
        const angle = random() * 2 * Math.PI;
        const meters = j === 0 ? radius : random() * radius;
        const point = { latitude: centre.latitude + north(meters * Math.sin(angle)), longitude: centre.longitude + dx(meters * Math.cos(angle)) };
        const at = t0 + random() * 60 * MIN;
        const [want, got] = [index.find(point, at)?.id, around.find(point, at)?.id];
        if (want !== got) differ.push(`${JSON.stringify(point)} at ${at}: find ${want}, around ${got}`);
      }
    }
    expect(differ).toEqual([]);
    // The shortcut (the whole disk inside one place) was taken, and not everywhere.
    expect(shortcut).toBeGreaterThan(200);
    expect(shortcut).toBeLessThan(1_800);
  });

  test('midpoint: halfway, across the date line too', () => {
    expect(midpoint({ latitude: 10, longitude: 20 }, { latitude: 10.0002, longitude: 20.0004 })).toEqual({ latitude: 10.0001, longitude: 20.0002 });
    const m = midpoint({ latitude: 0, longitude: 179.9998 }, { latitude: 0, longitude: -179.9999 });
    expect(m.longitude).toBeCloseTo(179.99995, 9);
    expect(midpoint({ latitude: 0, longitude: -179.9998 }, { latitude: 0, longitude: 179.9999 }).longitude).toBeCloseTo(-179.99995, 9);
  });

  describe('MeetingDetector: three persons, two booths', () => {
    const booth2: MeetingPlace = { id: 13, name: 'Booth 4', area: square(lat, lon - east(20, lat), 3), ...event };
    const b1 = { latitude: lat, longitude: lon + east(20, lat) };
    const b2 = { latitude: lat, longitude: lon - east(20, lat) };

    test('each pair once per booth per cooldown, with distance, midpoint and place; far persons never', () => {
      const d = new MeetingDetector({ ...rules, cooldownMs: 10 * MIN });
      d.places = new PlaceIndex([hall, booth, booth2]);
      const at = (s: number) => t0 + s * SEC;
      const seen = (personId: number, where: { latitude: number; longitude: number }, s: number, metersNorth = 0) =>
        d.observe(ping(personId, where.latitude + north(metersNorth), where.longitude, at(s)), at(s)).map((m) => ({
          pair: [m.a.personId, m.b.personId],
          at: m.at,
          place: m.place?.name,
          meters: Math.round(m.distanceMeters * 1e6) / 1e6,
        }));

      expect(seen(1, b1, 0)).toEqual([]);
      expect(seen(3, b2, 1)).toEqual([]);
      expect(seen(2, b1, 20, 2)).toEqual([{ pair: [1, 2], at: at(20), place: 'Booth 3', meters: 2 }]);
      // Still together a minute later: within the cooldown, nothing new.
      expect(seen(1, b1, 70, 1)).toEqual([]);
      expect(seen(2, b1, 80, 1.5)).toEqual([]);
      // Person 1 walks to booth 4, where person 3 stands.
      expect(seen(3, b2, 100)).toEqual([]);
      expect(seen(1, b2, 120, -3)).toEqual([{ pair: [3, 1], at: at(120), place: 'Booth 4', meters: 3 }]);
      // Persons 1 and 2 meet again at booth 3 after the cooldown: told again.
      expect(seen(2, b1, 700)).toEqual([]);
      expect(seen(1, b1, 721, 4)).toEqual([{ pair: [2, 1], at: at(721), place: 'Booth 3', meters: 4 }]);
      // In the hall but in no booth.
      expect(seen(3, { latitude: lat, longitude: lon }, 730)).toEqual([]);
      expect(seen(2, { latitude: lat, longitude: lon }, 731, 1)).toEqual([{ pair: [3, 2], at: at(731), place: 'Hall', meters: 1 }]);
      expect(d.cooldownSize).toBe(3);
      expect(d.grid.size).toBe(4);
    });

    test('countMeetings over every matching pair equals what the detector told, pings arriving in time order (2 hours, 5 persons wandering)', () => {
      const random = mulberry32(42);
      const r = { distanceMeters: 5, windowMs: 60 * SEC, cooldownMs: 2 * MIN };
      const d = new MeetingDetector(r);
      const index = new PlaceIndex([hall, booth, booth2]);
      d.places = index;
      // Each person hops between the two booths, the edge of booth 3 and the hall's centre, a ping every 4–8 s with 3 m of noise.
      const spots = [b1, b2, { latitude: lat, longitude: lon }, { latitude: lat, longitude: b1.longitude + east(3, lat) }];
      const pings: MeetingPing[] = [];
      for (let person = 1; person <= 5; person++) {
        let spot = spots[person % spots.length]!;
        for (let at = t0 + random() * 5 * SEC; at < t0 + 2 * 3_600_000; at += 4 * SEC + random() * 4 * SEC) {
          if (random() < 0.05) spot = spots[Math.floor(random() * spots.length)]!;
          pings.push(ping(person, spot.latitude + north((random() - 0.5) * 6), spot.longitude + east((random() - 0.5) * 6, lat), Math.round(at)));
        }
      }
      pings.sort((x, y) => x.at - y.at);
      const told = new Map<string, number>();
      for (const p of pings) {
        for (const m of d.observe(p, p.at)) {
          const key = [m.a.personId, m.b.personId].sort().join('-');
          told.set(key, (told.get(key) ?? 0) + 1);
        }
      }
      const pairs = new Map<string, Array<{ at: number; placeId: number | undefined }>>();
      for (let i = 0; i < pings.length; i++) {
        for (let j = i + 1; j < pings.length && pings[j]!.at - pings[i]!.at <= r.windowMs; j++) {
          const [a, b] = [pings[i]!, pings[j]!];
          if (a.personId === b.personId || haversineMeters(a, b) > r.distanceMeters) continue;
          const key = [a.personId, b.personId].sort().join('-');
          const list = pairs.get(key) ?? [];
          list.push({ at: b.at, placeId: index.find(midpoint(a, b), b.at)?.id });
          pairs.set(key, list);
        }
      }
      const counted = new Map([...pairs].map(([key, list]) => [key, countMeetings(list, r)]));
      expect([...told.values()].reduce((x, y) => x + y, 0)).toBeGreaterThan(50);
      expect(Object.fromEntries([...told].sort())).toEqual(Object.fromEntries([...counted].sort()));
    });
  });
});

describe('PartitionWatermark: the clock of a topic read partition by partition', () => {
  test('the oldest of the partitions’ newest times; a partition expected but not read yet holds it back until idle', () => {
    const w = new PartitionWatermark(10_000);
    w.expect(0, 0);
    w.expect(1, 0);
    // Partition 0's batch first: 100 s of pings; partition 1 not read yet.
    expect(w.observe(0, 1_000, 1)).toBe(-Infinity);
    expect(w.observe(0, 100_000, 2)).toBe(-Infinity);
    // Then partition 1's batch of the same seconds: the clock follows it.
    expect(w.observe(1, 5_000, 3)).toBe(5_000);
    expect(w.observe(1, 120_000, 4)).toBe(100_000);
    // Older times never move a partition back.
    expect(w.observe(0, 50_000, 5)).toBe(100_000);
    // Partition 1 goes quiet for more than 10 s of wall time: partition 0 alone sets the clock.
    expect(w.observe(0, 200_000, 20_000)).toBe(200_000);
  });

  test('a partition never read stops holding the clock back after the idle time', () => {
    const w = new PartitionWatermark(10_000);
    w.expect(0, 0);
    w.expect(1, 0);
    expect(w.observe(0, 1_000, 5_000)).toBe(-Infinity);
    expect(w.observe(0, 2_000, 10_001)).toBe(2_000);
  });
});
