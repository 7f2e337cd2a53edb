/** GET /api/persons/{id}/connection through person-api and a real connection-service, on the seed data. */
import request from 'supertest';
import { vincentyMeters } from '../../connection-service/test/geodesic';
import seed from '../../../db/seed-data/starter-seed.json';
import { startTestPersonApi, type Harness } from './harness';
import { bearer } from '../../../test/support/auth';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('connrest', { connectionService: true });
});
afterAll(async () => {
  await h.close();
});

const oldQuery = 'start_date=2020-01-01&end_date=2020-12-30&distance=5';
const personById = new Map(seed.persons.map((p) => [p.id, p]));

/** Independent check: geodesic distance over the seed JSON, both ends of the range included. */
function expected(personId: number, distance: number) {
  const inRange = (t: string) => t >= '2020-01-01' && t < '2020-12-31';
  const own = seed.locations.filter((l) => l.person_id === personId && inRange(l.creation_time));
  return seed.locations
    .filter((l) => l.person_id !== personId && inRange(l.creation_time) && own.some((m) => vincentyMeters(m, l) <= distance))
    .sort((a, b) => a.creation_time.localeCompare(b.creation_time) || a.id - b.id);
}

describe.each(seed.persons.map((p) => [p.id]))('seed person %i, the old frontend query', (personId) => {
  it('returns exactly the expected locations, once each, in the old shape', async () => {
    const res = await h.http.get(`/api/persons/${personId}/connection?${oldQuery}`).expect(200);
    const want = expected(personId, 5);
    expect(res.body.map((c: { location: { id: number } }) => c.location.id)).toEqual(want.map((l) => l.id));
    for (const c of res.body) {
      const l = seed.locations.find((x) => x.id === c.location.id)!;
      expect(c).toEqual({
        person: personById.get(l.person_id),
        location: { id: l.id, person_id: l.person_id, latitude: String(l.latitude), longitude: String(l.longitude), creation_time: l.creation_time },
      });
    }
  });
});

test('Taco Fargo (5) is connected to four people, grouped by person', async () => {
  const res = await h.http.get(`/api/persons/5/connection?${oldQuery}&group_by=person`).expect(200);
  const wantIds = [...new Set(expected(5, 5).map((l) => l.person_id))].sort();
  expect(res.body.map((g: { person: { id: number } }) => g.person.id).sort()).toEqual(wantIds);
  expect(wantIds).toHaveLength(4);
  for (const g of res.body) {
    const theirs = expected(5, 5).filter((l) => l.person_id === g.person.id);
    expect(g.match_count).toBe(theirs.length);
    expect(g.first_met).toBe(theirs[0]!.creation_time);
    expect(g.last_met).toBe(theirs[theirs.length - 1]!.creation_time);
    expect(g.closest_distance_meters).toBeGreaterThanOrEqual(0);
    expect(g.closest_distance_meters).toBeLessThanOrEqual(5);
    expect(g.meeting_points.map((l: { id: number }) => l.id)).toEqual(theirs.map((l) => l.id));
  }
});

test('a larger distance finds more, a tiny one fewer', async () => {
  const count = async (d: string) =>
    (await h.http.get(`/api/persons/5/connection?start_date=2020-01-01&end_date=2020-12-30&distance=${d}`).expect(200)).body.length;
  const [small, normal, large] = [await count('0.5'), await count('5'), await count('10000')];
  expect(small).toBe(expected(5, 0.5).length);
  expect(normal).toBe(expected(5, 5).length);
  expect(large).toBe(expected(5, 10000).length);
  expect(large).toBeGreaterThan(normal);
});

test('dates are whole UTC days with both ends included', async () => {
  // Seed person 1 has pings on 2020-08-18; person 5 at the same spot on 2020-08-15.
  const day = async (from: string, to: string) =>
    (await h.http.get(`/api/persons/1/connection?start_date=${from}&end_date=${to}&distance=5`).expect(200)).body.length;
  const want = (from: string, to: string) => {
    const inR = (t: string) => t >= from && t < new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString();
    const own = seed.locations.filter((l) => l.person_id === 1 && inR(l.creation_time));
    return seed.locations.filter((l) => l.person_id !== 1 && inR(l.creation_time) && own.some((m) => vincentyMeters(m, l) <= 5)).length;
  };
  for (const [from, to] of [
    ['2020-08-15', '2020-08-15'],
    ['2020-07-07', '2020-07-07'],
    ['2020-07-06', '2020-07-08'],
  ]) {
    expect(await day(from!, to!)).toBe(want(from!, to!));
  }
  expect(want('2020-08-15', '2020-08-15')).toBeGreaterThan(0);
});

describe('paging: the body stays a JSON array, the paging is in headers', () => {
  const wide = 'start_date=2020-01-01&end_date=2020-12-30&distance=10000';

  it("the old page's call (no paging parameters) gets the whole answer, X-Total-Count and no Link", async () => {
    const res = await h.http.get(`/api/persons/5/connection?${oldQuery}`).expect(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.headers['x-total-count']).toBe(String(expected(5, 5).length));
    expect(res.headers.link).toBeUndefined();
  });

  /** Follows Link rel="next" from `first`; every page's body. */
  async function follow(first: string) {
    const pages: Array<{ body: unknown[]; total: string }> = [];
    let next: string | undefined = first;
    while (next && pages.length < 100) {
      const res: request.Response = await h.http.get(next).expect(200);
      pages.push({ body: res.body as unknown[], total: res.headers['x-total-count'] as string });
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.link ?? '')?.[1];
    }
    return pages;
  }

  it('limit pages the answer; Link rel="next" leads through all of it, in order, each entry once', async () => {
    const whole = (await h.http.get(`/api/persons/5/connection?${wide}`).expect(200)).body as unknown[];
    expect(whole.length).toBe(expected(5, 10000).length);
    const pages = await follow(`/api/persons/5/connection?${wide}&limit=7`);
    expect(pages).toHaveLength(Math.ceil(whole.length / 7));
    expect(pages.every((p) => p.total === String(whole.length))).toBe(true);
    expect(pages.flatMap((p) => p.body)).toEqual(whole);
  });

  it('group_by=person pages the people', async () => {
    const whole = (await h.http.get(`/api/persons/5/connection?${wide}&group_by=person`).expect(200)).body as unknown[];
    const pages = await follow(`/api/persons/5/connection?${wide}&group_by=person&limit=2`);
    expect(pages.flatMap((p) => p.body)).toEqual(whole);
  });

  it('a cursor of another query is a 400 naming cursor', async () => {
    const first = await h.http.get(`/api/persons/5/connection?${wide}&limit=2`).expect(200);
    const cursor = /cursor=([\w-]+)/.exec(first.headers.link as string)![1];
    const res = await h.http.get(`/api/persons/5/connection?${oldQuery}&cursor=${cursor}`).expect(400);
    expect(res.body.errors[0].field).toBe('cursor');
  });

  it('a page holds at most 1000 entries', async () => {
    await h.http.get(`/api/persons/5/connection?${wide}&limit=1000`).expect(200);
    const res = await h.http.get(`/api/persons/5/connection?${wide}&limit=1001`).expect(400);
    expect(res.body.errors[0].field).toBe('limit');
  });
});

describe('who may ask (tokens forwarded to connection-service)', () => {
  it("an attendee gets their own connections, the same as an organizer does, and not another person's", async () => {
    const mine = await request(h.app)
      .get(`/api/persons/5/connection?${oldQuery}&group_by=person`)
      .set(bearer(await h.auth.attendee(5)))
      .expect(200);
    const organizers = await h.http.get(`/api/persons/5/connection?${oldQuery}&group_by=person`).expect(200);
    expect(mine.body).toEqual(organizers.body);
    expect(mine.body.length).toBeGreaterThan(0);
    await request(h.app)
      .get(`/api/persons/6/connection?${oldQuery}`)
      .set(bearer(await h.auth.attendee(5)))
      .expect(403);
  });

  it("with LEGACY_ANONYMOUS_READS, an anonymous read goes to connection-service with person-api's service token", async () => {
    const legacy = await startTestPersonApi('connlegacy', { legacyAnonymousReads: true, connectionService: `127.0.0.1:${h.connectionService!.port}` });
    try {
      const anonymous = await request(legacy.app).get(`/api/persons/5/connection?${oldQuery}`).expect(200);
      expect(anonymous.body.map((c: { location: { id: number } }) => c.location.id)).toEqual(expected(5, 5).map((l) => l.id));
    } finally {
      await legacy.close();
    }
  });
});
