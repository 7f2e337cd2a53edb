import seed from '../../../db/seed-data/starter-seed.json';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('persons');
});
afterAll(() => h.close());

const seededPersons = [...seed.persons].sort((a, b) => a.id - b.id);

describe('GET /api/persons', () => {
  it('returns the five seed persons ordered by id with exactly the contract fields', async () => {
    const res = await h.http
      .get('/api/persons')
      .expect(200)
      .expect('content-type', /application\/json/);
    // The contract's fields, and the discoverability flag (true unless the person opted out).
    expect(res.body).toEqual(seededPersons.map((p) => ({ ...p, discoverable: true })));
    for (const p of res.body) expect(Object.keys(p).sort()).toEqual(['company_name', 'discoverable', 'first_name', 'id', 'last_name']);
  });

  it('pages with limit and offset', async () => {
    const res = await h.http.get('/api/persons?limit=2&offset=1').expect(200);
    expect(res.body.map((p: { id: number }) => p.id)).toEqual([5, 6]);
  });

  it.each(['limit=0', 'limit=abc', 'offset=-1', 'limit=100000'])('rejects %s with a 400 naming the parameter', async (qs) => {
    const res = await h.http
      .get(`/api/persons?${qs}`)
      .expect(400)
      .expect('content-type', /application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([qs.split('=')[0]]);
  });
});

describe('GET /api/persons/{id}', () => {
  it('returns one seeded person', async () => {
    const res = await h.http.get('/api/persons/5').expect(200);
    expect(res.body).toEqual({ id: 5, first_name: 'Taco', last_name: 'Fargo', company_name: 'Alpha Omega Upholstery', discoverable: true });
  });

  it('answers 404 problem+json for an unknown id', async () => {
    const res = await h.http
      .get('/api/persons/4')
      .expect(404)
      .expect('content-type', /application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, title: 'Not Found', detail: expect.stringContaining('4') });
  });

  it.each(['abc', '-1', '1.5', '99999999999', '0', '1e3', '%20'])('answers 400 naming the id for %s', async (id) => {
    const res = await h.http
      .get(`/api/persons/${id}`)
      .expect(400)
      .expect('content-type', /application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, type: 'about:blank', title: 'Bad Request' });
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'id' })]);
  });
});

describe('POST /api/persons', () => {
  it('creates a person (201, Location header) that reads back, with an id past the seeded ones', async () => {
    const body = { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' };
    const created = await h.http.post('/api/persons').send(body).expect(201);
    expect(created.body).toEqual({ id: expect.any(Number), ...body, discoverable: true });
    expect(created.body.id).toBeGreaterThan(Math.max(...seededPersons.map((p) => p.id)));
    expect(created.headers.location).toBe(`/api/persons/${created.body.id}`);
    const read = await h.http.get(`/api/persons/${created.body.id}`).expect(200);
    expect(read.body).toEqual(created.body);
  });

  it('trims names', async () => {
    const res = await h.http.post('/api/persons').send({ first_name: ' Grace ', last_name: 'Hopper', company_name: 'Navy' }).expect(201);
    expect(res.body.first_name).toBe('Grace');
  });
});
