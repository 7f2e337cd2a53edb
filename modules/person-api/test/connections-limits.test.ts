/**
 * GET /api/persons/{id}/connection under load and abuse, through person-api and a real
 * connection-service: the cost guard and the unpaged maximum answer 400 saying what to narrow,
 * one caller gets 429 past its concurrent queries, and a client that disconnects cancels its SQL.
 */
import request from 'supertest';
import type { Knex } from 'knex';
import { startTestPersonApi, type Harness } from './harness';
import { bearer } from '../../../test/support/auth';
import { testKnex } from '../../../test/support/test-database';
import { serviceDatabaseUrl } from '../../../test/support/test-env';
import { runningProximityQueries, waitFor } from '../../../test/support/pg-activity';

const oldQuery = 'start_date=2020-01-01&end_date=2020-12-30&distance=5';

/** `count` new persons with `perPerson` pings each, all within 300 m of each other (near Munich) on 2022-03-01; their ids. */
async function crowd(knex: Knex, count: number, perPerson: number): Promise<number[]> {
  const ids = (
    await knex('person')
      .insert(Array.from({ length: count }, (_, i) => ({ first_name: `Crowd${i}`, last_name: 'Walker', company_name: 'Co' })))
      .returning('id')
  ).map((r: { id: number }) => r.id);
  await knex.raw('SELECT setseed(0.5)');
  await knex.raw(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT p, ST_SetSRID(ST_MakePoint(11.575 + random() * 300 / 74000.0, 48.2 + random() * 300 / 111000.0), 4326)::geography,
            timestamptz '2022-03-01 08:00Z' + random() * interval '10 hours', gen_random_uuid()
       FROM unnest(?::int[]) p, generate_series(1, ?::int) i`,
    [ids, perPerson],
  );
  await knex.raw('ANALYZE location');
  return ids;
}

describe('tight limits: 400 saying why', () => {
  let h: Harness;
  let me: number;
  beforeAll(async () => {
    h = await startTestPersonApi('connrestlimits', { connectionService: true, connectionServiceEnv: { MAX_QUERY_PAIRS: '20000', MAX_UNPAGED_RESULTS: '5' } });
    // 100 own pings × 500 others' within 300 m: 50,000 pairs at 1 km.
    [me] = (await crowd(h.knex, 6, 100)) as [number];
  });
  afterAll(() => h.close());

  it('a query over the cost guard → 400 problem+json naming the work and what to narrow', async () => {
    const res = await h.http.get(`/api/persons/${me}/connection?start_date=2022-03-01&end_date=2022-03-01&distance=1000&limit=10`).expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.detail).toMatch(/^The query is too large: the query would compare (about|more than) [\d,]+ pairs of locations/);
    expect(res.body.detail).toMatch(/more than the limit of 20,000; narrow the date range, the distance or the time window$/);
    expect(res.body.errors).toEqual([{ field: 'query', message: expect.stringMatching(/pairs of locations/) }]);
  });

  it('an unpaged answer over MAX_UNPAGED_RESULTS → 400 asking for limit and cursor; paged, the same query is answered', async () => {
    const res = await h.http.get(`/api/persons/5/connection?${oldQuery}`).expect(400);
    expect(res.body.detail).toMatch(/holds \d+ connections, more than the 5 a call without paging may return; .*REST: limit and cursor/);
    const paged = await h.http.get(`/api/persons/5/connection?${oldQuery}&limit=5`).expect(200);
    expect(paged.body).toHaveLength(5);
    expect(Number(paged.headers['x-total-count'])).toBeGreaterThan(5);
    expect(paged.headers.link).toMatch(/^<\/api\/persons\/5\/connection\?.*cursor=[\w-]+>; rel="next"$/);
  });
});

describe('a slow query: 429 past the per-caller limit, and a client that goes away cancels its SQL', () => {
  let h: Harness;
  /** As connection-service's role: only it sees the text of its own backends' queries. */
  let watcher: Knex;
  let me: number;
  beforeAll(async () => {
    h = await startTestPersonApi('connrestslow', {
      connectionService: true,
      connectionServiceEnv: { MAX_QUERY_PAIRS: '1000000000', STATEMENT_TIMEOUT_MS: '120000' },
    });
    watcher = testKnex(serviceDatabaseUrl('connection-service', h.testDb.url));
    // 6 × 1,000 pings: 5,000,000 pairs at 1 km, tens of seconds.
    [me] = (await crowd(h.knex, 6, 1000)) as [number];
  }, 60_000);
  afterAll(async () => {
    await watcher.destroy();
    await h.close();
  });

  const runningQueries = () => runningProximityQueries(watcher);

  it('two slow calls run, the third of the same caller is 429 with Retry-After, and aborting the two stops their SQL within 2 s', async () => {
    const url = `${h.url}/api/persons/${me}/connection?start_date=2022-03-01&end_date=2022-03-01&distance=1000&limit=10`;
    const clients = [new AbortController(), new AbortController()];
    const slow = clients.map((c) => fetch(url, { headers: bearer(h.auth.organizer), signal: c.signal }).catch((err: Error) => err));
    expect(await waitFor(async () => (await runningQueries()) === 2, 10_000)).toBe(true);

    const started = Date.now();
    const third = await request(h.app)
      .get(`/api/persons/${me}/connection?start_date=2022-03-01&end_date=2022-03-01&distance=5`)
      .set(bearer(h.auth.organizer))
      .expect(429);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(third.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body.detail).toMatch(/already has 2 connection queries running/);

    // Another caller (an attendee, for their own person) is served meanwhile.
    await request(h.app)
      .get(`/api/persons/5/connection?${oldQuery}`)
      .set(bearer(await h.auth.attendee(5)))
      .expect(200);

    expect(await runningQueries()).toBe(2);
    const abortedAt = Date.now();
    clients.forEach((c) => c.abort());
    for (const outcome of await Promise.all(slow)) expect(outcome).toMatchObject({ name: 'AbortError' });
    expect(await waitFor(async () => (await runningQueries()) === 0, 2_000)).toBe(true);
    expect(Date.now() - abortedAt).toBeLessThan(2_000);

    // The caller's slots are free again.
    await h.http.get(`/api/persons/5/connection?${oldQuery}`).expect(200);
  }, 60_000);
});
