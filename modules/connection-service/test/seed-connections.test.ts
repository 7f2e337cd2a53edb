/**
 * The old frontend's query (2020-01-01 … 2020-12-30, both included, 5 m) for each seeded person,
 * checked against an oracle computed in TypeScript from the seed JSON (WGS 84 geodesic distance),
 * not with SQL.
 */
import seed from '../../../db/seed-data/starter-seed.json';
import { startHarness, type Harness } from './harness';
import { vincentyMeters } from './geodesic';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('connseed');
});
afterAll(() => h.close());

const start = new Date('2020-01-01T00:00:00Z');
const end = new Date('2020-12-31T00:00:00Z'); // end_date 2020-12-30 + 1 day, exclusive
const DISTANCE = 5;

type SeedLocation = (typeof seed.locations)[number];
const inRange = (l: SeedLocation) => {
  const t = new Date(l.creation_time).getTime();
  return t >= start.getTime() && t < end.getTime();
};

function expectedConnections(personId: number) {
  const own = seed.locations.filter((l) => l.person_id === personId && inRange(l));
  return seed.locations
    .filter((l) => l.person_id !== personId && inRange(l))
    .map((l) => ({ l, distances: own.map((m) => ({ m, d: vincentyMeters(m, l) })).filter((x) => x.d <= DISTANCE) }))
    .filter((x) => x.distances.length > 0)
    .sort((a, b) => new Date(a.l.creation_time).getTime() - new Date(b.l.creation_time).getTime() || a.l.id - b.l.id);
}

describe.each(seed.persons.map((p) => [p.id, p] as const))('seed person %i', (personId, person) => {
  it('gets exactly the connections the geodesic oracle finds, once each, by time then id', async () => {
    const expected = expectedConnections(personId);
    const res = await h.find({ personId, start, end, distanceMeters: DISTANCE, withClosest: true });

    expect(res.people).toEqual([]);
    expect(res.connections.map((c) => [c.person!.id, c.location!.id])).toEqual(expected.map((x) => [x.l.person_id, x.l.id]));
    for (const [i, c] of res.connections.entries()) {
      const { l, distances } = expected[i]!;
      const other = seed.persons.find((p) => p.id === l.person_id)!;
      expect(c.person).toEqual({ id: other.id, firstName: other.first_name, lastName: other.last_name, companyName: other.company_name });
      expect(c.location).toEqual({ id: l.id, personId: l.person_id, latitude: l.latitude, longitude: l.longitude, creationTime: new Date(l.creation_time) });
      const closest = Math.min(...distances.map((x) => x.d));
      expect(c.distanceMeters).toBeCloseTo(closest, 4);
      // The own location reported is one of the closest matching ones: the smallest id among them.
      const closestOwn = distances.filter((x) => Math.abs(x.d - closest) < 1e-4).map((x) => x.m.id);
      expect(c.ownLocation!.id).toBe(Math.min(...closestOwn));
      expect(c.ownLocation!.personId).toBe(person.id);
    }
    // The default shape (what person-api asks for): the same connections, without the closest own location.
    const lean = await h.find({ personId, start, end, distanceMeters: DISTANCE });
    expect(lean.connections.map((c) => [c.person, c.location])).toEqual(res.connections.map((c) => [c.person, c.location]));
    expect(lean.connections.every((c) => c.ownLocation === undefined && c.distanceMeters === 0)).toBe(true);
  });
});

test('the seed is not a vacuous check: several persons have connections', async () => {
  const withConnections = seed.persons.filter((p) => expectedConnections(p.id).length > 0);
  expect(withConnections.length).toBeGreaterThanOrEqual(3);
});
