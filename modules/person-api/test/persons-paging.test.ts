/**
 * GET /api/persons (docs/contract.md §2.3) used to stop at 1,000 persons without saying so. Without
 * `limit` it now answers everyone up to 10,000, always with X-Total-Count, and with RFC 8288
 * Link next/prev when there are more pages; the body stays the plain array the old page reads.
 */
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
let total: number;
beforeAll(async () => {
  h = await startTestPersonApi('persons-paging');
  const rows = Array.from({ length: 1500 }, (_, i) => ({ first_name: `Paged${i}`, last_name: 'Person', company_name: 'Paging Inc' }));
  for (let i = 0; i < rows.length; i += 500) await h.knex('person').insert(rows.slice(i, i + 500));
  total = Number((await h.knex('person').count<{ count: string }[]>('* as count'))[0]!.count);
});
afterAll(() => h.close());

describe('GET /api/persons paging', () => {
  it('without parameters: every person (more than 1,000), a plain array, X-Total-Count, no Link', async () => {
    expect(total).toBeGreaterThan(1500);
    const res = await h.http.get('/api/persons').expect(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body).toHaveLength(total);
    expect(res.headers['x-total-count']).toBe(String(total));
    expect(res.headers.link).toBeUndefined();
    const ids = res.body.map((p: { id: number }) => p.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => a - b));
  });

  it('a page: X-Total-Count and Link next/prev that lead to the neighbouring pages', async () => {
    const res = await h.http.get('/api/persons?limit=100&offset=200').expect(200);
    expect(res.body).toHaveLength(100);
    expect(res.headers['x-total-count']).toBe(String(total));
    expect(res.headers.link).toBe('</api/persons?limit=100&offset=300>; rel="next", </api/persons?limit=100&offset=100>; rel="prev"');
    const next = await h.http.get('/api/persons?limit=100&offset=300').expect(200);
    const all = (await h.http.get('/api/persons').expect(200)).body;
    expect(next.body).toEqual(all.slice(300, 400));
  });

  it('the last page has prev only; past the end is an empty array', async () => {
    const last = await h.http.get(`/api/persons?limit=1000&offset=1000`).expect(200);
    expect(last.body).toHaveLength(total - 1000);
    expect(last.headers.link).toBe('</api/persons?limit=1000&offset=0>; rel="prev"');
    const past = await h.http.get(`/api/persons?limit=10&offset=${total + 5}`).expect(200);
    expect(past.body).toEqual([]);
  });

  it('browsers may read the paging headers (CORS)', async () => {
    const res = await h.http.get('/api/persons?limit=1').set('Origin', 'http://localhost:30000').expect(200);
    expect(res.headers['access-control-expose-headers']).toMatch(/X-Total-Count/);
    expect(res.headers['access-control-expose-headers']).toMatch(/Link/);
  });

  it.each(['0', '10001', '-1', '1.5', '01', ' 5'])('limit=%j → 400', async (limit) => {
    const res = await h.http.get(`/api/persons?limit=${encodeURIComponent(limit)}`).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'limit' })]);
  });

  it('the document describes the headers and the maximum', async () => {
    const op = (await h.http.get('/openapi.json').expect(200)).body.paths['/api/persons'].get;
    expect(Object.keys(op.responses['200'].headers).sort()).toEqual(['Link', 'X-Total-Count']);
    expect(op.description).toMatch(/10000/);
  });
});
