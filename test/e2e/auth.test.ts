/**
 * Tokens on the gRPC services (docs/contract.md §3), through the real transports: location-ingest and
 * person-api share one test database with the writer (the pipeline), connection-service runs on
 * the same database. A device token issued over REST sends pings over gRPC and asks
 * connection-service; once revoked over REST, every service refuses it within the poll interval.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger, createTokenSigner, generateSigningKey, parseConfig, publicJwk } from '@udaconnect/common';
import { ConnectionServiceClient, GroupBy, LocationIngestClient, type FindConnectionsRequest, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { CONNECTION_SERVICE_NAME, startConnectionService, type ConnectionService } from '../../modules/connection-service/src/connection-service';
import { INGEST_SERVICE_NAME } from '../../modules/location-ingest/src/ingest-service';
import { bearer } from '../support/auth';
import { eventually } from '../support/eventually';
import { healthStatus, reflectedServices } from '../support/grpc-probes';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { serviceDatabaseUrl } from '../support/test-env';

const logger = createLogger('auth-test', process.env.TEST_LOG_LEVEL ?? 'silent');
let p: Pipeline;
let connections: ConnectionService;
const clients: grpc.Client[] = [];

beforeAll(async () => {
  p = await startPipeline('grpcauth');
  connections = await startConnectionService(
    parseConfig(connectionConfigSchema, { PORT: '0', METRICS_PORT: '0', DATABASE_URL: serviceDatabaseUrl('connection-service', p.testDb.url), ...p.auth.env }),
    logger,
  );
});
afterAll(async () => {
  for (const c of clients) c.close();
  await connections.stop();
  await p.close();
});

/** An ingest client sending `token` (none when undefined) on every call. */
function ingestAs(token?: string) {
  const c = new LocationIngestClient(`127.0.0.1:${p.ingestPort}`, grpc.credentials.createInsecure(), token ? p.auth.grpcOptions(token) : {});
  clients.push(c);
  return {
    record: (ping: LocationPing) => new Promise<{ eventId: string }>((resolve, reject) => c.record(ping, (err, res) => (err ? reject(err) : resolve(res)))),
    stream: (pings: LocationPing[]) =>
      new Promise<StreamSummary>((resolve, reject) => {
        const call = c.recordStream((err, res) => (err ? reject(err) : resolve(res)));
        for (const ping of pings) call.write(ping);
        call.end();
      }),
    batch: (pings: LocationPing[]) =>
      new Promise<StreamSummary>((resolve, reject) => c.recordBatch({ pings }, (err, res) => (err ? reject(err) : resolve(res)))),
  };
}

function connectionsAs(token?: string, port = connections.port) {
  const c = new ConnectionServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), token ? p.auth.grpcOptions(token) : {});
  clients.push(c);
  return (request: Partial<FindConnectionsRequest>) =>
    new Promise<unknown>((resolve, reject) =>
      c.findConnections(
        {
          personId: 5,
          start: new Date('2020-01-01T00:00:00Z'),
          end: new Date('2020-12-31T00:00:00Z'),
          distanceMeters: 5,
          groupBy: GroupBy.GROUP_BY_UNSPECIFIED,
          withClosest: false,
          pageSize: 0,
          pageToken: '',
          ...request,
        },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
}

const ping = (personId: number): LocationPing => ({
  eventId: randomUUID(),
  personId,
  latitude: 37.5534,
  longitude: -122.2905,
  recordedAt: new Date(),
});

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'OK',
    (err: grpc.ServiceError) => grpc.status[err.code],
  );

async function storedPersonOf(eventId: string): Promise<number> {
  return eventually(async () => {
    const row = await p.knex('location').where({ event_id: eventId }).first('person_id');
    expect(row).toBeDefined();
    return row.person_id as number;
  }, 30_000);
}

describe('location-ingest', () => {
  it('refuses Record, RecordStream and RecordBatch without a valid token: UNAUTHENTICATED', async () => {
    const expired = (await p.auth.signer.sign({ role: 'organizer', subject: 'organizer:past', ttlSeconds: 1 })).token;
    const stranger = await (await createTokenSigner(await generateSigningKey())).sign({ role: 'organizer', subject: 'organizer:x', ttlSeconds: 600 });
    await new Promise((r) => setTimeout(r, 6_500));
    for (const token of [undefined, 'not.a.token', expired, stranger.token]) {
      expect(await code(ingestAs(token).record(ping(5)))).toBe('UNAUTHENTICATED');
      expect(await code(ingestAs(token).stream([ping(5), ping(5)]))).toBe('UNAUTHENTICATED');
      expect(await code(ingestAs(token).batch([ping(5), ping(5)]))).toBe('UNAUTHENTICATED');
    }
  }, 20_000);

  it("an attendee's token sends for its own person: PERMISSION_DENIED for another, person_id 0 means its own", async () => {
    const me = ingestAs(await p.auth.attendee(5));
    const denied = await me.record(ping(6)).catch((e: grpc.ServiceError) => e);
    expect(denied).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/person 5 only, not 6/) });
    const own = await me.record(ping(5));
    const zero = await me.record({ ...ping(0) });
    expect(await storedPersonOf(own.eventId)).toBe(5);
    expect(await storedPersonOf(zero.eventId)).toBe(5);
  });

  it('in a batch too, an attendee’s pings for another person are rejected with the reason, the rest stored', async () => {
    const pings = [ping(6), ping(5), ping(0)];
    const summary = await ingestAs(await p.auth.attendee(5)).batch(pings);
    expect(summary.accepted).toBe(2);
    expect(summary.rejections).toEqual([{ index: 0, eventId: pings[0]!.eventId, reason: expect.stringMatching(/person 5 only, not 6/), retryable: false }]);
    expect(summary.rejectedByReason).toEqual({ forbidden: 1 });
    expect(await storedPersonOf(pings[2]!.eventId)).toBe(5);
  });

  it('on a stream, a ping for another person is rejected with the reason and never published', async () => {
    const pings = [ping(5), ping(6), ping(0), ping(8)];
    const summary = await ingestAs(await p.auth.attendee(5)).stream(pings);
    expect(summary.accepted).toBe(2);
    expect(summary.rejections).toEqual([
      { index: 1, eventId: pings[1]!.eventId, reason: expect.stringMatching(/person 5 only, not 6/), retryable: false },
      { index: 3, eventId: pings[3]!.eventId, reason: expect.stringMatching(/person 5 only, not 8/), retryable: false },
    ]);
    expect(await storedPersonOf(pings[2]!.eventId)).toBe(5);
    // Once a later ping of the same stream is stored, the refused ones would have been too.
    expect(await p.knex('location').whereIn('event_id', [pings[1]!.eventId, pings[3]!.eventId])).toEqual([]);
  });

  it('an organizer sends for anyone; a service token for no one', async () => {
    const ack = await ingestAs(p.auth.organizer).record(ping(6));
    expect(await storedPersonOf(ack.eventId)).toBe(6);
    const service = (await p.auth.signer.sign({ role: 'service', subject: 'service:person-api', ttlSeconds: 600 })).token;
    expect(await code(ingestAs(service).record(ping(6)))).toBe('PERMISSION_DENIED');
  });

  it('health and reflection stay open', async () => {
    expect(await healthStatus(p.ingestPort, INGEST_SERVICE_NAME)).toBe('SERVING');
    expect(await reflectedServices(p.ingestPort)).toContain(INGEST_SERVICE_NAME);
  });
});

describe('connection-service', () => {
  it('refuses a call without a valid token: reaching the port is not enough', async () => {
    expect(await code(connectionsAs(undefined)({}))).toBe('UNAUTHENTICATED');
    expect(await code(connectionsAs('x.y.z')({}))).toBe('UNAUTHENTICATED');
  });

  it("answers an attendee about themself only, an organizer and person-api's service token about anyone", async () => {
    const attendee = connectionsAs(await p.auth.attendee(5));
    expect(await code(attendee({ personId: 5 }))).toBe('OK');
    expect(await code(attendee({ personId: 6 }))).toBe('PERMISSION_DENIED');
    expect(await code(connectionsAs(p.auth.organizer)({ personId: 6 }))).toBe('OK');
    const service = (await p.auth.signer.sign({ role: 'service', subject: 'service:person-api', ttlSeconds: 600 })).token;
    expect(await code(connectionsAs(service)({ personId: 6 }))).toBe('OK');
  });

  it('health and reflection stay open', async () => {
    expect(await healthStatus(connections.port, CONNECTION_SERVICE_NAME)).toBe('SERVING');
    expect(await reflectedServices(connections.port)).toContain(CONNECTION_SERVICE_NAME);
  });

  it('accepts tokens of both keys of a rotated key set, and refuses a key that dropped out', async () => {
    const [oldest, previous, current] = await Promise.all([generateSigningKey(), generateSigningKey(), generateSigningKey()]);
    const dir = mkdtempSync(join(tmpdir(), 'udaconnect-rotation-'));
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [publicJwk(current), publicJwk(previous)] }));
    const rotated = await startConnectionService(
      parseConfig(connectionConfigSchema, {
        PORT: '0',
        METRICS_PORT: '0',
        DATABASE_URL: serviceDatabaseUrl('connection-service', p.testDb.url),
        AUTH_JWKS_FILE: jwks,
        REVOCATION_POLL_MS: '1000',
      }),
      logger,
    );
    try {
      const tokenOf = async (key: typeof current) =>
        (await (await createTokenSigner(key)).sign({ role: 'organizer', subject: 'organizer:r', ttlSeconds: 600 })).token;
      expect(await code(connectionsAs(await tokenOf(current), rotated.port)({}))).toBe('OK');
      expect(await code(connectionsAs(await tokenOf(previous), rotated.port)({}))).toBe('OK');
      expect(await code(connectionsAs(await tokenOf(oldest), rotated.port)({}))).toBe('UNAUTHENTICATED');
    } finally {
      await rotated.stop();
    }
  });
});

describe('a device token, issued and revoked over REST', () => {
  it('works on every service until revoked, then every service refuses it within the poll interval', async () => {
    const res = await fetch(`${p.apiUrl}/api/persons/8/devices`, {
      method: 'POST',
      headers: { ...bearer(p.auth.organizer), 'content-type': 'application/json' },
      body: '{"label":"phone"}',
    });
    expect(res.status).toBe(201);
    const { device_id, token } = (await res.json()) as { device_id: string; token: string };
    const ingest = ingestAs(token);
    const find = connectionsAs(token);
    const rest = () => fetch(`${p.apiUrl}/api/persons/8/locations`, { headers: bearer(token) }).then((r) => r.status);

    expect(await storedPersonOf((await ingest.record(ping(0))).eventId)).toBe(8);
    expect(await code(find({ personId: 8 }))).toBe('OK');
    expect(await rest()).toBe(200);

    const revoked = await fetch(`${p.apiUrl}/api/devices/${device_id}`, { method: 'DELETE', headers: bearer(p.auth.organizer) });
    expect(revoked.status).toBe(204);
    const started = Date.now();
    expect(await rest()).toBe(401);
    // REVOCATION_POLL_MS is 250 ms in the tests (15 s by default, 60 s at most).
    await eventually(async () => {
      expect(await code(ingest.record(ping(0)))).toBe('UNAUTHENTICATED');
      expect(await code(ingest.stream([ping(0)]))).toBe('UNAUTHENTICATED');
      expect(await code(find({ personId: 8 }))).toBe('UNAUTHENTICATED');
    }, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
