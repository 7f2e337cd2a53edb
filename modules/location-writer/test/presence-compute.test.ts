/**
 * Venue.presenceOf (src/presence-compute.ts) against the rules applied the plain way: every ping
 * tested against every place with isInside, visitsOf and attended over the person's whole
 * sequence. The grid and the shortened per-place sequences must give exactly the same answer.
 */
import { attended, DEFAULT_PRESENCE_RULES, isInside, timeInside, visitsOf, type GeoPolygon, type PresenceRules } from '@udaconnect/domain';
import { Venue, type PingAt, type VenuePlace, type VenueSession } from '../src/presence-compute';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rect = (lon: number, lat: number, w: number, h: number): GeoPolygon => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + w, lat],
      [lon + w, lat + h],
      [lon, lat + h],
      [lon, lat],
    ],
  ],
});

/** The plain way: for each place, the full sequence of the person's pings, inside or not. */
function plainPresence(places: VenuePlace[], sessions: VenueSession[], pings: PingAt[], rules: PresenceRules) {
  const visits: Array<{ placeId: number; firstSeen: number; lastSeen: number }> = [];
  const attendance: Array<{ sessionId: number; insideMs: number }> = [];
  for (const place of places) {
    const sequence = pings.map((p) => ({ at: p.at, inside: isInside(place.area, p.latitude, p.longitude) }));
    for (const v of visitsOf(sequence, rules)) visits.push({ placeId: place.id, ...v });
    for (const s of sessions.filter((x) => x.placeId === place.id)) {
      if (attended(sequence, s.start, s.end, rules)) attendance.push({ sessionId: s.id, insideMs: timeInside(sequence, s.start, s.end, rules) });
    }
  }
  const order = <T extends object>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
  return { visits: order(visits), attendance: order(attendance) };
}

test.each([1, 2, 3, 4, 5, 6])('a random venue (overlapping places, a hole, a triangle) and a random walk, seed %i: the same as the plain way', (seed) => {
  const rnd = random(seed);
  const lon0 = 10;
  const lat0 = 50;
  // 40 booths on a 0.002° square, some overlapping; one room with a hole; one triangle.
  const places: VenuePlace[] = Array.from({ length: 40 }, (_, i) => ({
    id: i + 1,
    area: rect(lon0 + rnd() * 0.002, lat0 + rnd() * 0.002, 0.00005 + rnd() * 0.0003, 0.00005 + rnd() * 0.0003),
  }));
  const withHole = rect(lon0 + 0.0005, lat0 + 0.0005, 0.0008, 0.0008);
  withHole.coordinates.push(rect(lon0 + 0.0008, lat0 + 0.0008, 0.0002, 0.0002).coordinates[0]!.reverse());
  places.push({ id: 41, area: withHole });
  places.push({
    id: 42,
    area: {
      type: 'Polygon',
      coordinates: [
        [
          [lon0, lat0],
          [lon0 + 0.002, lat0],
          [lon0, lat0 + 0.002],
          [lon0, lat0],
        ],
      ],
    },
  });
  const start = Date.parse('2024-06-01T08:00:00Z');
  // A walk: stays near a point for a while, then jumps; pings 10–400 s apart.
  const pings: PingAt[] = [];
  let at = start;
  let lon = lon0 + 0.001;
  let lat = lat0 + 0.001;
  for (let i = 0; i < 2_000; i++) {
    if (rnd() < 0.02) {
      lon = lon0 - 0.0002 + rnd() * 0.0025;
      lat = lat0 - 0.0002 + rnd() * 0.0025;
    }
    pings.push({ at, longitude: lon + (rnd() - 0.5) * 0.00003, latitude: lat + (rnd() - 0.5) * 0.00003 });
    at += 10_000 + Math.floor(rnd() ** 3 * 390_000);
  }
  // Sessions over the walk's time, in the places it stayed longest in, and in random ones.
  const sessions: VenueSession[] = [];
  for (let i = 0; i < 300; i++) {
    const s = start + Math.floor(rnd() * (at - start));
    sessions.push({ id: 100 + i, placeId: 1 + Math.floor(rnd() * 42), start: s, end: s + (10 + Math.floor(rnd() * 50)) * 60_000 });
  }
  const rules = { ...DEFAULT_PRESENCE_RULES, minVisitMs: 60_000 };
  const fast = new Venue(places, sessions).presenceOf(pings, rules);
  const plain = plainPresence(places, sessions, pings, rules);
  expect(plain.visits.length).toBeGreaterThan(10);
  expect(plain.attendance.length).toBeGreaterThan(0);
  expect({ visits: fast.visits.map((r) => JSON.stringify(r)).sort(), attendance: fast.attendance.map((r) => JSON.stringify(r)).sort() }).toEqual(plain);
});

test('a venue without places finds nothing; a ping on a booth’s edge is inside it', () => {
  expect(new Venue([], []).presenceOf([{ at: 0, latitude: 50, longitude: 10 }], DEFAULT_PRESENCE_RULES)).toEqual({ visits: [], attendance: [] });
  const venue = new Venue([{ id: 7, area: rect(10, 50, 0.0001, 0.0001) }], []);
  const edge = [0, 60_000, 120_000].map((at) => ({ at, latitude: 50.00005, longitude: 10.0001 }));
  expect(venue.presenceOf(edge, DEFAULT_PRESENCE_RULES)).toEqual({ visits: [{ placeId: 7, firstSeen: 0, lastSeen: 120_000 }], attendance: [] });
});
