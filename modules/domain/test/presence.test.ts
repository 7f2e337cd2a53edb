/** The presence rules: visits, time inside a room, attendance, point in polygon. */
import { attended, isInside, timeInside, visitsOf, type GeoPolygon, type PresencePing } from '../src/presence';

const MIN = 60_000;
const t0 = Date.parse('2026-06-01T09:00:00Z');
/** Pings at these minutes after t0, inside unless the minute is listed in `outside`. */
const pings = (minutes: number[], outside: number[] = []): PresencePing[] => minutes.map((m) => ({ at: t0 + m * MIN, inside: !outside.includes(m) }));

describe('visitsOf: consecutive pings inside, gaps ≤ 5 min, spanning ≥ 2 min', () => {
  test('one run of pings a minute apart over 4 minutes is one visit, first to last ping', () => {
    expect(visitsOf(pings([0, 1, 2, 3, 4]))).toEqual([{ firstSeen: t0, lastSeen: t0 + 4 * MIN }]);
  });
  test('exactly 2 minutes counts; just under does not', () => {
    expect(visitsOf(pings([0, 2]))).toEqual([{ firstSeen: t0, lastSeen: t0 + 2 * MIN }]);
    expect(visitsOf(pings([0, 1.99]))).toEqual([]);
    expect(visitsOf(pings([7]))).toEqual([]);
  });
  test('a gap over 5 minutes splits the run; exactly 5 does not', () => {
    expect(visitsOf(pings([0, 5, 10]))).toEqual([{ firstSeen: t0, lastSeen: t0 + 10 * MIN }]);
    expect(visitsOf(pings([0, 3, 8.01, 11]))).toEqual([
      { firstSeen: t0, lastSeen: t0 + 3 * MIN },
      { firstSeen: t0 + 8.01 * MIN, lastSeen: t0 + 11 * MIN },
    ]);
  });
  test('pings outside in between do not end the run (GPS noise); pings outside only are no visit', () => {
    expect(visitsOf(pings([0, 1, 2, 3, 4, 5, 6], [3]))).toEqual([{ firstSeen: t0, lastSeen: t0 + 6 * MIN }]);
    expect(visitsOf(pings([0, 1, 2], [1]))).toEqual([{ firstSeen: t0, lastSeen: t0 + 2 * MIN }]);
    // Inside, 6 minutes elsewhere (pinging outside), inside again: two runs, the gap between the pings inside is over 5 minutes.
    expect(visitsOf(pings([0, 1, 2, 4, 6, 8.5, 9, 11], [4, 6]))).toEqual([
      { firstSeen: t0, lastSeen: t0 + 2 * MIN },
      { firstSeen: t0 + 8.5 * MIN, lastSeen: t0 + 11 * MIN },
    ]);
    expect(visitsOf(pings([0, 1, 2], [0, 1, 2]))).toEqual([]);
  });
  test('the minimum span and gap are settings', () => {
    expect(visitsOf(pings([0, 1]), { maxGapMs: 5 * MIN, minVisitMs: MIN, maxCoverMs: 5 * MIN })).toHaveLength(1);
    expect(visitsOf(pings([0, 3]), { maxGapMs: 2 * MIN, minVisitMs: MIN, maxCoverMs: 5 * MIN })).toEqual([]);
  });
});

describe('timeInside and attended: each ping covers until the next, at most 5 min; at least half the session', () => {
  const start = t0;
  const end = t0 + 40 * MIN;
  test('pings every minute throughout cover the whole session', () => {
    const every = pings(Array.from({ length: 41 }, (_, i) => i));
    expect(timeInside(every, start, end)).toBe(40 * MIN);
    expect(attended(every, start, end)).toBe(true);
  });
  test('a ping covers at most 5 minutes: pings every 10 minutes cover half', () => {
    const sparse = pings([0, 10, 20, 30]);
    expect(timeInside(sparse, start, end)).toBe(20 * MIN);
    expect(attended(sparse, start, end)).toBe(true);
    expect(attended(pings([0, 10, 20]), start, end)).toBe(false);
  });
  test('time outside the session and pings outside the room do not count', () => {
    // Inside from 30 minutes before to 19 minutes in (a ping each minute), then outside.
    const early = pings(
      Array.from({ length: 60 }, (_, i) => i - 30),
      Array.from({ length: 11 }, (_, i) => 19 + i),
    );
    expect(timeInside(early, start, end)).toBe(19 * MIN);
    expect(attended(early, start, end)).toBe(false);
  });
  test('the last ping covers 5 minutes', () => {
    expect(timeInside(pings([38]), start, end)).toBe(2 * MIN);
    expect(timeInside(pings([10]), start, end)).toBe(5 * MIN);
  });
});

describe('isInside: GeoJSON [longitude, latitude]', () => {
  // A 10 m × 10 m booth near Moscone Center, with a 2 m × 2 m hole (a pillar).
  const booth: GeoPolygon = {
    type: 'Polygon',
    coordinates: [
      [
        [-122.4016, 37.7842],
        [-122.40149, 37.7842],
        [-122.40149, 37.78429],
        [-122.4016, 37.78429],
        [-122.4016, 37.7842],
      ],
      [
        [-122.40156, 37.78423],
        [-122.40154, 37.78423],
        [-122.40154, 37.78425],
        [-122.40156, 37.78425],
        [-122.40156, 37.78423],
      ],
    ],
  };
  test('inside, outside, in the hole, and with latitude and longitude swapped', () => {
    expect(isInside(booth, 37.78422, -122.40158)).toBe(true);
    expect(isInside(booth, 37.7844, -122.40158)).toBe(false);
    expect(isInside(booth, 37.78424, -122.40155)).toBe(false);
    expect(isInside(booth, -122.40158, 37.78422)).toBe(false);
  });
});
