/**
 * What bounds a FindConnections call (docs/contract.md §6, "Limits"): pages and their tokens, the
 * unpaged maximum, the cost guard measured before the query runs, the per-caller concurrency
 * limit, and a cancelled call cancelling its SQL (seen in pg_stat_activity).
 */
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { ConnectionServiceClient, GroupBy, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { createPersons, startHarness, type Harness } from './harness';
import { testKnex } from '../../../test/support/test-database';
import { serviceDatabaseUrl } from '../../../test/support/test-env';
import { runningProximityQueries, waitFor } from '../../../test/support/pg-activity';

const DAY = 86_400_000;
const range = { start: new Date('2022-03-01T00:00:00Z'), end: new Date(new Date('2022-03-01T00:00:00Z').getTime() + 2 * DAY) };

/**
 * `perPerson` pings for each of `persons`, uniformly in a `sizeMeters` square near Munich (far from
 * the seed's pings), on 2022-03-01; generated inside PostgreSQL.
 */
async function scatter(knex: Knex, persons: number[], perPerson: number, sizeMeters: number, seed: number): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT setseed(?)', [seed]);
    await trx.raw(
      `INSERT INTO location (person_id, coordinate, creation_time, event_id)
       SELECT p, ST_SetSRID(ST_MakePoint(11.575 + random() * ?::float8 / 74000.0, 48.2 + random() * ?::float8 / 111000.0), 4326)::geography,
              timestamptz '2022-03-01 08:00Z' + random() * interval '10 hours', gen_random_uuid()
         FROM unnest(?::int[]) p, generate_series(1, ?::int) i`,
      [sizeMeters, sizeMeters, persons, perPerson],
    );
  });
  await knex.raw('ANALYZE location');
}

const entries = (r: FindConnectionsResponse) => (r.people.length ? r.people.map((p) => p.person!.id) : r.connections.map((c) => c.location!.id));

describe('pages, the unpaged maximum and the cost guard', () => {
  let h: Harness;
  let me: number;
  let others: number[];
  beforeAll(async () => {
    h = await startHarness('connlimits', { env: { MAX_UNPAGED_RESULTS: '200', MAX_QUERY_PAIRS: '100000' } });
    const ids = await createPersons(h.knex, 6, 'Dense');
    me = ids[0]!;
    others = ids.slice(1);
    // 200 own pings and 2,000 others' in a 200 m square: at 5 m a few hundred connections, at
    // 1 km every pair (400,000).
    await scatter(h.knex, [me!], 200, 200, 0.1);
    await scatter(h.knex, others, 400, 200, 0.2);
  }, 60_000);
  afterAll(() => h.close());

  const q = (extra: Partial<FindConnectionsRequest> = {}) => ({ personId: me, ...range, distanceMeters: 5, ...extra });

  async function allPages(request: Partial<FindConnectionsRequest>) {
    const pages: FindConnectionsResponse[] = [];
    let token = '';
    do {
      const page = await h.find({ ...request, pageToken: token });
      pages.push(page);
      token = page.nextPageToken;
    } while (token && pages.length < 100);
    return pages;
  }

  it('pages of page_size, in the answer order, add up to the whole answer with its total', async () => {
    const whole = await h.find(q({ pageSize: 1000 }));
    expect(whole.nextPageToken).toBe('');
    const total = whole.connections.length;
    expect(total).toBeGreaterThan(200);
    expect(whole.totalSize).toBe(total);

    const pages = await allPages(q({ pageSize: 97 }));
    expect(pages).toHaveLength(Math.ceil(total / 97));
    expect(pages.slice(0, -1).every((p) => p.connections.length === 97 && p.nextPageToken !== '')).toBe(true);
    expect(pages.at(-1)!.nextPageToken).toBe('');
    expect(pages.every((p) => p.totalSize === total)).toBe(true);
    expect(pages.flatMap(entries)).toEqual(entries(whole));
  });

  it('group_by=person pages people', async () => {
    const whole = await h.find(q({ groupBy: GroupBy.GROUP_BY_PERSON }));
    expect(whole.people).toHaveLength(5);
    const pages = await allPages(q({ groupBy: GroupBy.GROUP_BY_PERSON, pageSize: 2 }));
    expect(pages.map((p) => p.people.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap(entries)).toEqual(entries(whole));
    expect(pages.map((p) => p.totalSize)).toEqual([5, 5, 5]);
  });

  it('a page_token without page_size gives pages of 100', async () => {
    const first = await h.find(q({ pageSize: 10 }));
    const second = await h.find(q({ pageToken: first.nextPageToken }));
    expect(second.connections).toHaveLength(100);
  });

  it('a page_token is refused with any other query (INVALID_ARGUMENT page_token)', async () => {
    const first = await h.find(q({ pageSize: 10 }));
    const err = await h.findError(q({ pageToken: first.nextPageToken, distanceMeters: 6 }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^page_token: /);
  });

  it('an unpaged answer above MAX_UNPAGED_RESULTS is refused (FAILED_PRECONDITION), saying how many and what to do', async () => {
    const total = (await h.find(q({ pageSize: 1 }))).totalSize;
    const err = await h.findError(q());
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toContain(`holds ${total.toLocaleString('en-US')} connections, more than the 200`);
    expect(err.details).toMatch(/page_size and page_token/);
  });

  it('an unpaged answer within the maximum comes whole (the seed, the old page: 5 m, a year)', async () => {
    const res = await h.find({ personId: 5, start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z'), distanceMeters: 5 });
    expect(res.connections.length).toBeGreaterThan(0);
    expect(res.totalSize).toBe(res.connections.length);
    expect(res.nextPageToken).toBe('');
  });

  it('the cost guard refuses a query of too many pairs before running it (FAILED_PRECONDITION), even paged', async () => {
    const err = await h.findError(q({ distanceMeters: 1000, pageSize: 10 }));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    // 200 own pings × 2,000 others within 1 km: each probe stops at 100,000 / 200 + 1 = 501 rows
    // (200 × 501 pairs, plus one probe per own ping).
    expect(err.details).toMatch(
      /would compare more than 100,400 pairs of locations \(200 of the person's own locations in the range, each with more than 501 others within 1000 m\)/,
    );
    expect(err.details).toMatch(/more than the limit of 100,000; narrow the date range, the distance or the time window/);
    // A time window narrows the work below the limit: 10 minutes of 10 hours.
    const narrowed = await h.find(q({ distanceMeters: 1000, timeWindowMinutes: 3, pageSize: 10 }));
    expect(narrowed.totalSize).toBeGreaterThan(0);
  });

  it('counts refusals by reason on /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${h.service.metricsPort}/metrics`)).text();
    expect(text).toMatch(/udaconnect_connection_queries_refused_total\{[^}]*reason="too_costly"[^}]*\} [1-9]/);
    expect(text).toMatch(/udaconnect_connection_queries_refused_total\{[^}]*reason="too_many_unpaged"[^}]*\} [1-9]/);
  });
});

describe('a slow query: per-caller concurrency, and cancelling the call cancels the SQL', () => {
  let h: Harness;
  /** As connection-service's own role: a role without superuser sees the query text of its own backends only. */
  let watcher: Knex;
  let me: number;
  beforeAll(async () => {
    // No cost guard to speak of, and time enough: the point is a query that runs for seconds.
    h = await startHarness('connslow', { env: { MAX_QUERY_PAIRS: '1000000000', STATEMENT_TIMEOUT_MS: '120000' } });
    watcher = testKnex(serviceDatabaseUrl('connection-service', h.testDb.url));
    const [first, ...others] = await createPersons(h.knex, 6, 'Slow');
    me = first!;
    // 1,000 own pings × 5,000 others', all within 300 m of each other: 5,000,000 pairs at 1 km,
    // tens of seconds (about 4 µs a pair on the development machine).
    await scatter(h.knex, [me], 1000, 300, 0.3);
    await scatter(h.knex, others, 1000, 300, 0.4);
  }, 60_000);
  afterAll(async () => {
    await watcher.destroy();
    await h.close();
  });

  const slow = { personId: 0, ...range, distanceMeters: 1000, groupBy: GroupBy.GROUP_BY_UNSPECIFIED, withClosest: false, pageSize: 10, pageToken: '' };
  const runningQueries = () => runningProximityQueries(watcher);

  it('a third call of one caller is RESOURCE_EXHAUSTED at once, another caller is served, and cancelled calls stop their SQL within 2 s', async () => {
    const calls: grpc.ClientUnaryCall[] = [];
    const outcomes: Array<Promise<grpc.ServiceError | FindConnectionsResponse>> = [];
    for (let i = 0; i < 2; i++) {
      outcomes.push(
        new Promise((resolve) => {
          calls.push(h.client.findConnections({ ...slow, personId: me }, (err, res) => resolve(err ?? res)));
        }),
      );
    }
    expect(await waitFor(async () => (await runningQueries()) === 2, 10_000)).toBe(true);

    const started = Date.now();
    const third = await h.findError({ ...slow, personId: me });
    expect(third.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(third.details).toMatch(/already has 2 connection queries running/);
    expect(Date.now() - started).toBeLessThan(1_000);

    // Another organizer (another token subject) is not held up by the first one's limit.
    const { token } = await h.auth.signer.sign({ role: 'organizer', subject: 'organizer:other', ttlSeconds: 600 });
    const other = new ConnectionServiceClient(`127.0.0.1:${h.service.port}`, grpc.credentials.createInsecure(), h.auth.grpcOptions(token));
    try {
      const res = await new Promise<FindConnectionsResponse>((resolve, reject) =>
        other.findConnections(
          { ...slow, personId: 5, start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z'), distanceMeters: 5 },
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
      expect(res.totalSize).toBeGreaterThan(0);
    } finally {
      other.close();
    }

    // The two slow queries are still running; cancelling their calls cancels them in PostgreSQL.
    expect(await runningQueries()).toBe(2);
    const cancelledAt = Date.now();
    calls.forEach((c) => c.cancel());
    for (const o of await Promise.all(outcomes)) expect((o as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    expect(await waitFor(async () => (await runningQueries()) === 0, 2_000)).toBe(true);
    const stoppedAfterMs = Date.now() - cancelledAt;
    expect(stoppedAfterMs).toBeLessThan(2_000);

    // The caller's two slots are free again, within the same 2 s. A slot is held until the service
    // itself has seen its query end: PostgreSQL stops it first (what runningQueries saw), and the
    // error reaches the service a moment later, so a call sent at once may still find both taken.
    let again: FindConnectionsResponse | undefined;
    const freed = await waitFor(async () => {
      try {
        again = await h.find({ ...slow, personId: me, distanceMeters: 1, timeWindowMinutes: 1 });
        return true;
      } catch (err) {
        if ((err as grpc.ServiceError).code !== grpc.status.RESOURCE_EXHAUSTED) throw err;
        return false;
      }
    }, 2_000);
    expect(freed).toBe(true);
    expect(again?.totalSize).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
