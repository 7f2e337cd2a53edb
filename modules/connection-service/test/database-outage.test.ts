/**
 * Trouble with the database: going away under connection-service (a TCP proxy cut, as in
 * person-api's outage test) → calls fail with UNAVAILABLE, health turns NOT_SERVING, and both
 * recover by themselves when the database is back. A query over STATEMENT_TIMEOUT_MS →
 * DEADLINE_EXCEEDED, and the service keeps serving.
 */
import * as grpc from '@grpc/grpc-js';
import { CONNECTION_SERVICE_NAME } from '../src/connection-service';
import { healthStatus } from '../../../test/support/grpc-probes';
import { eventually } from '../../../test/support/eventually';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { infraEnv } from '../../../test/support/test-env';
import { createPersons, insertPings, startHarness, type Harness } from './harness';

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  const db = new URL(infraEnv().databaseUrl);
  proxy = await startTcpProxy(db.hostname === 'localhost' ? '127.0.0.1' : db.hostname, Number(db.port || 5432));
  h = await startHarness('connoutage', {
    env: { DB_HEALTH_INTERVAL_MS: '200' },
    serviceDatabaseUrl: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxy.port);
      return u.toString();
    },
  });
});
afterAll(async () => {
  await h.close();
  await proxy.close();
});

const query = { personId: 5, start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z'), distanceMeters: 5 };

it('answers UNAVAILABLE and NOT_SERVING while the database is unreachable, and recovers when it is back', async () => {
  const before = await h.find(query);
  expect(before.connections.length).toBeGreaterThan(0);
  expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING');

  await proxy.cut();
  const err = await h.findError(query);
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  expect(err.details).toMatch(/database is unavailable/);
  await eventually(async () => expect(await healthStatus(h.service.port)).toBe('NOT_SERVING'));
  expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('NOT_SERVING');

  await proxy.restore();
  await eventually(async () => expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING'));
  expect(await h.find(query)).toEqual(before);
});

it('cancels a query running longer than STATEMENT_TIMEOUT_MS with DEADLINE_EXCEEDED, and keeps serving', async () => {
  // The cost guard would refuse this query (FAILED_PRECONDITION) before it runs when its estimate
  // finishes inside the 50 ms; lifted here so the statement timeout is what stops it.
  const slow = await startHarness('conntimeout', { env: { STATEMENT_TIMEOUT_MS: '50', MAX_QUERY_PAIRS: '100000000' } });
  try {
    // 2,000 × 2,000 pings at one spot: four million pairs to check, far more than 50 ms of work.
    const [me, other] = await createPersons(slow.knex, 2, 'Crowd');
    const spot = { latitude: 10, longitude: 10 };
    const t0 = Date.parse('2022-02-02T00:00:00Z');
    await insertPings(
      slow.knex,
      Array.from({ length: 4_000 }, (_, i) => ({ personId: i % 2 ? me! : other!, ...spot, time: new Date(t0 + i * 1_000) })),
    );
    const err = await slow.findError({ personId: me, start: new Date(t0), end: new Date(t0 + 86_400_000), distanceMeters: 5 });
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err.details).toMatch(/^the query took longer than 50 ms/);
    expect(await healthStatus(slow.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING');
    // A small query still answers. Its own 50 ms can run out on a busy machine (the suite runs
    // files in parallel), so it gets a few tries.
    await eventually(async () => expect((await slow.find(query)).connections.length).toBeGreaterThan(0));
  } finally {
    await slow.close();
  }
});
