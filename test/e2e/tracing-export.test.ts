/**
 * Exporting, on a real service process: connection-service started as main.ts starts it, with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at a small HTTP sink here. A call that carries a
 * traceparent is answered; on SIGTERM the buffered spans go to <endpoint>/v1/traces as OTLP
 * protobuf, in the caller's trace, named by the service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConnectionServiceClient, GroupBy } from '@udaconnect/proto';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { ROOT, serviceDatabaseUrl } from '../support/test-env';

let sink: http.Server;
let endpoint: string;
const received: Array<{ path: string; type: string | undefined; body: Buffer }> = [];
let testDb: TestDatabase;
let service: ChildProcess | undefined;

beforeAll(async () => {
  sink = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', type: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  testDb = await createTestDatabase('tracing-export');
});
afterAll(async () => {
  if (service?.exitCode === null) service.kill('SIGKILL');
  await new Promise((resolve) => sink.close(resolve));
  await testDb.drop();
});

test('connection-service exports its spans over OTLP when shut down, in the caller’s trace', async () => {
  const auth = await testAuth();
  const logs: string[] = [];
  service = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/connection-service/src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      METRICS_PORT: '0',
      DATABASE_URL: serviceDatabaseUrl('connection-service', testDb.url),
      ...auth.env,
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  service.stdout!.on('data', (c: Buffer) => logs.push(c.toString()));
  service.stderr!.on('data', (c: Buffer) => logs.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => service!.once('exit', (code) => resolve(code)));

  const port = await eventually(() => {
    const m = /listening on localhost:(\d+)/.exec(logs.join(''));
    expect(m).not.toBeNull();
    return Number(m![1]);
  }, 30_000);
  expect(logs.join('')).toContain('tracing: exporting spans over OTLP');

  const traceId = randomBytes(16).toString('hex');
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', `00-${traceId}-${randomBytes(8).toString('hex')}-01`);
  const client = new ConnectionServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), auth.grpcOptions());
  try {
    await new Promise((resolve, reject) =>
      client.findConnections(
        {
          personId: 5,
          start: new Date('2020-01-01'),
          end: new Date('2020-12-30'),
          distanceMeters: 5,
          timeWindowMinutes: 0,
          groupBy: GroupBy.GROUP_BY_UNSPECIFIED,
          withClosest: false,
          pageSize: 0,
          pageToken: '',
        },
        metadata,
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  } finally {
    client.close();
  }
  // Batched: nothing has left yet (the batch delay is 5 s); SIGTERM's last step flushes.
  expect(received).toEqual([]);
  service.kill('SIGTERM');
  expect(await exited).toBe(0);

  expect(received.length).toBeGreaterThanOrEqual(1);
  expect(received.every((r) => r.path === '/v1/traces' && r.type === 'application/x-protobuf')).toBe(true);
  const body = Buffer.concat(received.map((r) => r.body));
  // Protobuf keeps strings as they are and ids as raw bytes.
  expect(body.includes('connection-service')).toBe(true);
  expect(body.includes('udaconnect.connection.v1.ConnectionService/FindConnections')).toBe(true);
  expect(body.includes('SELECT location')).toBe(true);
  expect(body.includes(Buffer.from(traceId, 'hex'))).toBe(true);
});
