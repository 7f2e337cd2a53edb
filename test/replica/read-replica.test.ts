/**
 * connection-service with DATABASE_READ_URL on a real streaming replica: scripts/pg-replica.sh's
 * cluster `15 replica` (a hot standby of the primary, port 5433), reached through a TCP proxy this
 * file can cut without disturbing anyone else. The test database is created and written on the
 * primary only; the replica gets it through the WAL. Checked: proximity queries run on the replica
 * and never on the primary, a write on the primary shows in answers, the replica refuses writes, a
 * replica out of reach makes the service NOT_SERVING (no fallback) while token revocations keep
 * coming from the primary — and how long a row written on the primary takes to be readable on the
 * replica (printed; docs/benchmarks.md has the benchmark's figures).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { ConnectionServiceClient, GroupBy, type FindConnectionsRequest } from '@udaconnect/proto';
import { CONNECTION_SERVICE_NAME } from '../../modules/connection-service/src/connection-service';
import { createPersons, insertPings, startHarness, type Harness } from '../../modules/connection-service/test/harness';
import { eventually } from '../support/eventually';
import { healthStatus } from '../support/grpc-probes';
import { ensureReplica, lagSummary, measureReplicaLag, withPort } from '../support/replica';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { testKnex } from '../support/test-database';
import { serviceDatabaseUrl } from '../support/test-env';

let replicaPort: number;
let proxy: TcpProxy;
let h: Harness;
/** The test database on the replica as its owner (ct_admin), and as connection-service's role on each server. */
let replicaAdmin: Knex;
let roleOnReplica: Knex;
let roleOnPrimary: Knex;
/** Scans of `location` the primary had counted when the service started. */
let primaryScansAtStart: number;

beforeAll(async () => {
  ({ port: replicaPort } = await ensureReplica());
  proxy = await startTcpProxy('127.0.0.1', replicaPort);
  h = await startHarness('replica', {
    env: { DB_HEALTH_INTERVAL_MS: '200' },
    serviceReadDatabaseUrl: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxy.port);
      return u.toString();
    },
  });
  replicaAdmin = testKnex(withPort(h.testDb.url, replicaPort));
  roleOnReplica = testKnex(withPort(serviceDatabaseUrl('connection-service', h.testDb.url), replicaPort));
  roleOnPrimary = testKnex(serviceDatabaseUrl('connection-service', h.testDb.url));
  primaryScansAtStart = await locationScans(h.knex);
  // CREATE DATABASE on the primary reaches the replica through the WAL like any other write.
  await eventually(() => replicaAdmin.raw('SELECT 1'), 30_000, 200);
  await eventually(async () => expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING'), 30_000);
}, 180_000);

afterAll(async () => {
  await Promise.all([replicaAdmin?.destroy(), roleOnReplica?.destroy(), roleOnPrimary?.destroy()]);
  await h?.close();
  await proxy?.close();
});

// Far from the seed's pings (San Mateo) and from each other.
const spot = (n: number) => ({ latitude: 52.52 + n * 0.009, longitude: 13.405 });
const HOUR = 3_600_000;
const around = (t: number) => ({ start: new Date(t - HOUR), end: new Date(t + HOUR), distanceMeters: 5 });
const locationIds = (res: { connections: Array<{ location?: { id: number } }> }) => res.connections.map((c) => c.location!.id);

/** Scans of `location` (index and sequential) this server has counted so far, in its cumulative statistics. */
async function locationScans(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ scans: string }> }>(
    // location is partitioned by day (migration 0009): the scans are counted on its partitions.
    `SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0) AS scans FROM pg_stat_user_tables
      WHERE relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'location'::regclass)`,
  );
  return Number(rows[0]!.scans);
}

/** Backends of `applicationName` on this database (connection-service's pools name theirs). */
async function backends(knex: Knex, applicationName: string): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ n: number }> }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?',
    [applicationName],
  );
  return rows[0]!.n;
}

it('answers FindConnections from the replica: its proximity queries run there, with a pool of their own', async () => {
  const [me, other] = (await createPersons(h.knex, 2, 'Replica')) as [number, number];
  const t = Date.parse('2023-03-03T10:00:00Z');
  const [, theirs] = await insertPings(h.knex, [
    { personId: me, ...spot(0), time: new Date(t) },
    { personId: other, ...spot(0), time: new Date(t + 60_000) },
  ]);
  const before = await locationScans(replicaAdmin);
  await eventually(async () => expect(locationIds(await h.find({ personId: me, ...around(t) }))).toEqual([theirs]));
  for (let i = 0; i < 5; i++) await h.find({ personId: me, ...around(t) });

  // Each call probes location's indexes (the cost estimate, then the query), and the replica counts
  // them: a backend reports its counts at the end of a transaction at most once a second, or 10 s
  // after it went idle. The last test checks the primary.
  await eventually(async () => expect((await locationScans(replicaAdmin)) - before).toBeGreaterThanOrEqual(10), 30_000, 250);
  // The read pool's connections are on the replica only; the primary's pool (revocation list, health) on the primary.
  expect(await backends(roleOnReplica, 'connection-service-read')).toBeGreaterThan(0);
  expect(await backends(roleOnPrimary, 'connection-service-read')).toBe(0);
  expect(await backends(roleOnPrimary, 'connection-service')).toBeGreaterThan(0);
});

it('shows a write on the primary in its answers as soon as the replica has replayed it', async () => {
  const [me, other] = (await createPersons(h.knex, 2, 'Fresh')) as [number, number];
  const t = Date.parse('2023-04-04T10:00:00Z');
  await insertPings(h.knex, [{ personId: me, ...spot(2), time: new Date(t) }]);
  const ids: number[] = [];
  const msUntilAnswered: number[] = [];
  let laterCalls = 0;
  for (let i = 0; i < 20; i++) {
    const [id] = await insertPings(h.knex, [{ personId: other, ...spot(2), time: new Date(t + (i + 1) * 1_000) }]);
    const written = performance.now();
    ids.push(id!);
    let calls = 0;
    await eventually(
      async () => {
        calls++;
        expect(locationIds(await h.find({ personId: me, ...around(t) }))).toEqual(ids);
      },
      10_000,
      1,
    );
    msUntilAnswered.push(performance.now() - written);
    laterCalls += calls - 1;
  }
  const s = lagSummary(msUntilAnswered);
  console.log(
    `write on the primary → first FindConnections answer with it (20 writes): p50 ${s.p50.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; ` +
      `${laterCalls} call(s) in all answered without it`,
  );
});

it('is read-only there: the replica refuses writes, even from the owner of the tables', async () => {
  expect((await roleOnReplica.raw<{ rows: Array<{ standby: boolean }> }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!.standby).toBe(true);
  await expect(replicaAdmin.raw("INSERT INTO person (first_name, last_name, company_name) VALUES ('Never', 'Written', 'Replica')")).rejects.toMatchObject({
    code: '25006', // read_only_sql_transaction: "cannot execute INSERT in a read-only transaction"
  });
  // The service read its answers there all along, and still does.
  expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING');
});

it('measures how long a row written on the primary takes to be readable on the replica (200 writes)', async () => {
  const [writer] = (await createPersons(h.knex, 1, 'Lag')) as [number];
  const measured = await measureReplicaLag(h.knex, replicaAdmin, { samples: 200, personId: writer });
  const s = lagSummary(measured.lags);
  console.log(
    `primary commit acknowledged → row readable on the replica, ${s.n} writes: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, ` +
      `max ${s.max.toFixed(2)} ms, mean ${s.mean.toFixed(2)} ms; ${measured.seenAtFirstRead} seen at the first read, ` +
      `a read taking ${lagSummary(measured.reads).p50.toFixed(2)} ms (p50)`,
  );
  expect(s.n).toBe(200);
});

it('is NOT_SERVING while the replica is out of reach (no fallback to the primary), keeps reading revocations from the primary, and recovers', async () => {
  const [me] = (await createPersons(h.knex, 1, 'Cut')) as [number];
  const request = { personId: me, ...around(Date.parse('2023-05-05T10:00:00Z')) };
  await proxy.cut();
  try {
    await eventually(async () => expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('NOT_SERVING'));
    const ready = await fetch(`http://127.0.0.1:${h.service.metricsPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/Not ready: database_read/);
    const err = await h.findError(request);
    expect(err.code).toBe(grpc.status.UNAVAILABLE);

    // A device revoked on the primary is refused within the revocation poll: the list is read there, not on the replica.
    const deviceId = randomUUID();
    const token = await h.auth.attendee(me, { deviceId });
    await h.knex('device').insert({ id: deviceId, person_id: me, expires_at: new Date(Date.now() + HOUR), revoked_at: new Date() });
    const client = new ConnectionServiceClient(`127.0.0.1:${h.service.port}`, grpc.credentials.createInsecure(), h.auth.grpcOptions(token));
    try {
      const full: FindConnectionsRequest = { groupBy: GroupBy.GROUP_BY_UNSPECIFIED, withClosest: false, pageSize: 0, pageToken: '', ...request };
      await eventually(async () => {
        const refused = await new Promise<grpc.ServiceError | null>((resolve) => client.findConnections(full, (e) => resolve(e)));
        expect({ code: refused?.code, details: refused?.details }).toEqual({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/revoked/) });
      });
    } finally {
      client.close();
    }
  } finally {
    await proxy.restore();
  }
  await eventually(async () => expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING'));
  expect((await h.find(request)).connections).toEqual([]);
});

it("left the primary without a single scan of location in all of this file's FindConnections calls", async () => {
  // A backend reports its counts when it ends, at the latest: end the service's connections on the
  // primary (its pool makes new ones) and wait until they are gone.
  const pids = async () =>
    (
      await h.knex.raw<{ rows: Array<{ pid: number }> }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'connection-service%'",
      )
    ).rows.map((r) => r.pid);
  const ended = await pids();
  expect(ended).not.toEqual([]);
  await h.knex.raw('SELECT pg_terminate_backend(pid) FROM unnest(?::int[]) AS pid', [ended]);
  await eventually(async () => expect((await pids()).filter((p) => ended.includes(p))).toEqual([]));
  expect((await locationScans(h.knex)) - primaryScansAtStart).toBe(0);
});
