/** GET /api/persons/{id}/connection: parameters are checked before connection-service is asked. */
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // No connection-service runs for this file: valid queries must answer 503, not fail otherwise.
  h = await startTestPersonApi('connvalidation');
});
afterAll(() => h.close());

const base = '/api/persons/5/connection';
const ok = { start_date: '2020-01-01', end_date: '2020-12-30', distance: '5' };
const qs = (q: Record<string, string | undefined>) =>
  Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');

const cases: Array<[string, Record<string, string | undefined>, string]> = [
  ['missing start_date', { ...ok, start_date: undefined }, 'start_date'],
  ['missing end_date', { ...ok, end_date: undefined }, 'end_date'],
  ['month 13', { ...ok, start_date: '2020-13-01' }, 'start_date'],
  ['February 30', { ...ok, end_date: '2020-02-30' }, 'end_date'],
  ['a date with a time', { ...ok, start_date: '2020-01-01T00:00:00Z' }, 'start_date'],
  ['end before start', { ...ok, start_date: '2020-05-02', end_date: '2020-05-01' }, 'end_date'],
  ['a span over 366 days', { ...ok, start_date: '2020-01-01', end_date: '2021-01-01' }, 'end_date'],
  ['distance 0', { ...ok, distance: '0' }, 'distance'],
  ['distance -5', { ...ok, distance: '-5' }, 'distance'],
  ['distance abc', { ...ok, distance: 'abc' }, 'distance'],
  ['distance 1e9', { ...ok, distance: '1e9' }, 'distance'],
  ['distance NaN', { ...ok, distance: 'NaN' }, 'distance'],
  ['distance Infinity', { ...ok, distance: 'Infinity' }, 'distance'],
  ['distance empty', { ...ok, distance: '' }, 'distance'],
  ['time_window 0', { ...ok, time_window: '0' }, 'time_window'],
  ['time_window 1.5', { ...ok, time_window: '1.5' }, 'time_window'],
  ['group_by unknown', { ...ok, group_by: 'company' }, 'group_by'],
  ['an unknown parameter', { ...ok, radius: '5' }, 'radius'],
  ['limit 0', { ...ok, limit: '0' }, 'limit'],
  ['limit 1001', { ...ok, limit: '1001' }, 'limit'],
  ['limit 1.5', { ...ok, limit: '1.5' }, 'limit'],
  ['a cursor with other characters', { ...ok, cursor: 'a+b/c=' }, 'cursor'],
  ['an empty cursor', { ...ok, cursor: '' }, 'cursor'],
];

describe('bad parameters → 400 problem+json naming the parameter', () => {
  it.each(cases)('%s', async (_what, query, field) => {
    const res = await h.http.get(`${base}?${qs(query)}`).expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('a bad person id is named too', async () => {
    const res = await h.http.get(`/api/persons/abc/connection?${qs(ok)}`).expect(400);
    expect(res.body.errors[0].field).toBe('id');
  });
});

test('a span of exactly 366 days (a leap year) is accepted', async () => {
  // Accepted by validation; no connection-service here, so the answer is the 503.
  await h.http.get(`${base}?${qs({ ...ok, start_date: '2020-01-01', end_date: '2020-12-31' })}`).expect(503);
});

test('unknown person → 404, before connection-service is asked', async () => {
  const res = await h.http.get(`/api/persons/4/connection?${qs(ok)}`).expect(404);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
});

test('connection-service down → 503 problem+json, and the rest of the API keeps working', async () => {
  const res = await h.http.get(`${base}?${qs(ok)}`).expect(503);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body.detail).toMatch(/connection-service/);
  await h.http.get('/api/persons').expect(200);
  await h.http.get('/api/persons/5').expect(200);
  const ready = await h.http.get('/readyz').expect(200);
  expect(ready.body.checks.connection_service).toBe(false);
});
