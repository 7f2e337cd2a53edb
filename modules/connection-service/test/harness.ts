/** connection-service in-process (port 0) on a private copy of the test database, called over loopback gRPC. */
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { createLogger, parseConfig } from '@udaconnect/common';
import { ConnectionServiceClient, GroupBy, type FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { connectionConfigSchema } from '../src/config';
import { startConnectionService, type ConnectionService } from '../src/connection-service';
import { createTestDatabase, type TestDatabase, testKnex } from '../../../test/support/test-database';
import { serviceDatabaseUrl as roleDatabaseUrl } from '../../../test/support/test-env';
import { testAuth, type TestAuth } from '../../../test/support/auth';

const logger = createLogger('connection-test', process.env.TEST_LOG_LEVEL ?? 'silent');

export interface Harness {
  testDb: TestDatabase;
  /** A separate pool for the test's own inserts and checks. */
  knex: Knex;
  service: ConnectionService;
  /** Sends an organizer token on every call. */
  client: ConnectionServiceClient;
  auth: TestAuth;
  /** Stops the service and starts it again with the same configuration, on the same ports (`service` is the new one). */
  restartService(): Promise<ConnectionService>;
  find(request: Partial<FindConnectionsRequest>): Promise<FindConnectionsResponse>;
  /** The gRPC error of a call that must fail. */
  findError(request: Partial<FindConnectionsRequest>): Promise<grpc.ServiceError>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** More environment for the service's config. */
  env?: Record<string, string>;
  /** The database URL the service gets (e.g. through a TCP proxy); the test's own pool keeps the direct one. */
  serviceDatabaseUrl?: (url: string) => string;
  /** DATABASE_READ_URL for the service, from its own direct URL (e.g. the same database on a replica); unset: none. */
  serviceReadDatabaseUrl?: (url: string) => string;
}

export async function startHarness(
  label: string,
  { env = {}, serviceDatabaseUrl = (url) => url, serviceReadDatabaseUrl }: HarnessOptions = {},
): Promise<Harness> {
  const testDb = await createTestDatabase(label);
  const auth = await testAuth();
  const roleUrl = roleDatabaseUrl('connection-service', testDb.url);
  const config = parseConfig(connectionConfigSchema, {
    DATABASE_URL: serviceDatabaseUrl(roleUrl),
    ...(serviceReadDatabaseUrl && { DATABASE_READ_URL: serviceReadDatabaseUrl(roleUrl) }),
    PORT: '0',
    METRICS_PORT: '0',
    ...auth.env,
    ...env,
  });
  let service = await startConnectionService(config, logger);
  const client = new ConnectionServiceClient(`127.0.0.1:${service.port}`, grpc.credentials.createInsecure(), auth.grpcOptions());
  const knex = testKnex(testDb.url);
  const call = (request: Partial<FindConnectionsRequest>) =>
    new Promise<FindConnectionsResponse>((resolve, reject) =>
      client.findConnections(
        { personId: 0, distanceMeters: 0, groupBy: GroupBy.GROUP_BY_UNSPECIFIED, withClosest: false, pageSize: 0, pageToken: '', ...request },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  const h: Harness = {
    testDb,
    knex,
    service,
    client,
    auth,
    async restartService() {
      const ports = {
        PORT: service.port,
        METRICS_PORT: service.metricsPort,
        ...(service.meetingsPort !== undefined && { MEETINGS_PORT: service.meetingsPort }),
      };
      await service.stop();
      service = await startConnectionService({ ...config, ...ports }, logger);
      h.service = service;
      return service;
    },
    find: call,
    async findError(request) {
      const outcome = await call(request).then(
        (res) => res,
        (err: grpc.ServiceError) => err,
      );
      if (!(outcome instanceof Error)) throw new Error(`expected the call to fail, got ${JSON.stringify(outcome)}`);
      return outcome;
    },
    async close() {
      client.close();
      await service.stop();
      await knex.destroy();
      await testDb.drop();
    },
  };
  return h;
}

export interface Ping {
  id?: number;
  personId: number;
  latitude: number;
  longitude: number;
  time: Date;
}

/** Inserts pings in one statement (explicit ids when given); returns their ids in order. */
export async function insertPings(knex: Knex, pings: Ping[]): Promise<number[]> {
  if (pings.length === 0) return [];
  const withIds = pings.every((p) => p.id !== undefined);
  const { rows } = await knex.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO location (${withIds ? 'id, ' : ''}person_id, coordinate, creation_time, event_id)
     SELECT ${withIds ? 'u.id, ' : ''}u.person_id, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)::geography, u.t, gen_random_uuid()
       FROM unnest(?::bigint[], ?::int[], ?::float8[], ?::float8[], ?::timestamptz[]) WITH ORDINALITY AS u(id, person_id, lon, lat, t, n)
      ORDER BY u.n
     RETURNING id`,
    [
      pings.map((p) => p.id ?? 0),
      pings.map((p) => p.personId),
      pings.map((p) => p.longitude),
      pings.map((p) => p.latitude),
      pings.map((p) => p.time.toISOString()),
    ],
  );
  return rows.map((r) => r.id);
}

export async function createPersons(knex: Knex, count: number, prefix = 'Test'): Promise<number[]> {
  const rows = await knex('person')
    .insert(Array.from({ length: count }, (_, i) => ({ first_name: `${prefix}${i}`, last_name: `Walker${i}`, company_name: `Co ${i}` })))
    .returning('id');
  return rows.map((r: { id: number }) => r.id);
}
