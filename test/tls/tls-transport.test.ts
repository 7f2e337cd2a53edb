/**
 * person-api (HTTPS) and location-ingest (gRPC over TLS, plus the plaintext HEALTH_PORT) in-process
 * with a throwaway CA made by scripts/tls-certs.sh, over the real transports: what trusts the CA
 * gets through, plaintext and clients that do not trust the CA do not. Then the simulator's --tls.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { closeHttpServer, createHttpServer, createLogger, listen, loadServerTls, parseConfig } from '@udaconnect/common';
import { LocationIngestClient, type LocationPing } from '@udaconnect/proto';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { INGEST_SERVICE_NAME, startIngest } from '../../modules/location-ingest/src/ingest-service';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { IngestUnreachableError, runSimulation } from '../../scripts/simulator/simulator';
import { healthStatus, reflectedServices } from '../support/grpc-probes';
import { infraEnv, ROOT, runId } from '../support/test-env';
import { makeCerts, tempDir, type CertSet } from './certs';

const logger = createLogger('tls-transport-test', process.env.TEST_LOG_LEVEL ?? 'silent');
let tmp: ReturnType<typeof tempDir>;
let certs: CertSet;
let otherCa: CertSet;
let api: Harness;
let apiServer: http.Server;
let apiPort: number;
let ingest: Awaited<ReturnType<typeof startIngest>>;

beforeAll(async () => {
  tmp = tempDir('tls-transport');
  certs = makeCerts(join(tmp.path, 'a'));
  otherCa = makeCerts(join(tmp.path, 'b'));
  const tlsEnv = { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile };

  api = await startTestPersonApi('tls');
  apiServer = createHttpServer(api.app, loadServerTls(tlsEnv));
  apiPort = await listen(apiServer, 0, '127.0.0.1');

  const { kafkaBrokers } = infraEnv();
  const config = parseConfig(ingestConfigSchema, {
    PORT: '0',
    METRICS_PORT: '0',
    HEALTH_PORT: '0',
    DATABASE_URL: api.testDb.url,
    KAFKA_BROKERS: kafkaBrokers,
    LOCATIONS_TOPIC: `test.${runId()}.tls.locations`,
    LOCATIONS_PARTITIONS: '1',
    ...api.auth.env,
    ...tlsEnv,
  });
  ingest = await startIngest(config, logger);
  await ingest.untilReady();
});

afterAll(async () => {
  await ingest?.stop();
  if (apiServer?.listening) await closeHttpServer(apiServer);
  await api?.close();
  tmp?.remove();
});

// ------------------------------------------------------------------------------------ HTTPS

interface Answer {
  status: number;
  body: string;
  protocol: string | null;
}

/** One request with node:https (or node:http with `plain`); rejects with the transport error. */
function get(path: string, opts: { ca?: Buffer; servername?: string; token?: string; plain?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    const options = { host: '127.0.0.1', port: apiPort, path, headers, timeout: 5_000 };
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol: (res.socket as TLSSocket).getProtocol?.() ?? null }));
    };
    const req = opts.plain
      ? http.get(options, onResponse)
      : https.get({ ...options, agent: false, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.servername ? { servername: opts.servername } : {}) }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('person-api over HTTPS', () => {
  it('answers a client that trusts the CA, by IP address and by host name, over TLS 1.3', async () => {
    const health = await get('/health', { ca: certs.ca });
    expect(health).toEqual({ status: 200, body: expect.stringContaining('healthy'), protocol: 'TLSv1.3' });
    const byName = await get('/health', { ca: certs.ca, servername: 'localhost' });
    expect(byName.status).toBe(200);
  });

  it('serves the API itself over TLS (an organizer token gets the persons; none gets a 401)', async () => {
    const persons = await get('/api/persons', { ca: certs.ca, token: api.auth.organizer });
    expect(persons.status).toBe(200);
    expect((JSON.parse(persons.body) as Array<{ id: number }>).map((p) => p.id)).toEqual(expect.arrayContaining([1, 5, 6, 8, 9]));
    expect((await get('/api/persons', { ca: certs.ca })).status).toBe(401);
  });

  it('gives a plaintext HTTP request no answer', async () => {
    await expect(get('/health', { plain: true })).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('is refused by a client that does not trust the CA (system roots, or another CA)', async () => {
    await expect(get('/health')).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(get('/health', { ca: otherCa.ca })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('is refused for a host name the certificate does not name', async () => {
    await expect(get('/health', { ca: certs.ca, servername: 'person-api.example.com' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

// ------------------------------------------------------------------------------------ frontend proxy

interface Frontend {
  port: number;
  stop(): Promise<void>;
}

/** modules/frontend/server/main.ts as a child process on a free port; resolves once it listens, rejects if it exits. */
function startFrontend(env: Record<string, string>): Promise<Frontend> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/frontend/server/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', METRICS_PORT: '0', API_BASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`frontend did not start:\n${log}`)), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`frontend exited (${code}) before listening:\n${log}`), { code, log }));
    });
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /listening on http:\/\/localhost:(\d+)\//.exec(log);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

describe('frontend server proxy to https person-api (PERSON_API_URL https://…, PERSON_API_CA_FILE)', () => {
  const through = (frontend: Frontend, path: string, token?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: frontend.port, path, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 10_000 }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });

  it('proxies /api over TLS, trusting the CA', async () => {
    const frontend = await startFrontend({ PERSON_API_URL: `https://localhost:${apiPort}`, PERSON_API_CA_FILE: certs.caFile });
    try {
      const res = await through(frontend, '/api/persons', api.auth.organizer);
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as Array<{ id: number }>).map((p) => p.id)).toEqual(expect.arrayContaining([1, 5]));
    } finally {
      await frontend.stop();
    }
  });

  it('answers 502 naming the certificate problem when it does not trust person-api’s CA', async () => {
    const frontend = await startFrontend({ PERSON_API_URL: `https://localhost:${apiPort}`, PERSON_API_CA_FILE: otherCa.caFile });
    try {
      const res = await through(frontend, '/api/persons', api.auth.organizer);
      expect(res.status).toBe(502);
      expect(res.body).toContain('unable to verify the first certificate');
    } finally {
      await frontend.stop();
    }
  });

  it('stops at start-up when PERSON_API_CA_FILE cannot be read', async () => {
    await expect(startFrontend({ PERSON_API_URL: `https://localhost:${apiPort}`, PERSON_API_CA_FILE: join(tmp.path, 'nope.crt') })).rejects.toMatchObject({
      code: 1,
      log: expect.stringMatching(/PERSON_API_CA_FILE: cannot read .*nope\.crt \(ENOENT\)/),
    });
  });
});

// ------------------------------------------------------------------------------------ gRPC

/** The error of a failed call, or undefined when it succeeded. */
async function failureOf(call: Promise<unknown>): Promise<grpc.ServiceError | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return err as grpc.ServiceError;
  }
}

const ping = (): LocationPing => ({ eventId: '', personId: 5, latitude: 37.553441, longitude: -122.290524, recordedAt: new Date('2026-11-20T10:11:12Z') });

function record(port: number, credentials: grpc.ChannelCredentials, token?: string): Promise<{ eventId: string }> {
  const client = new LocationIngestClient(`127.0.0.1:${port}`, credentials, token ? api.auth.grpcOptions(token) : {});
  return new Promise<{ eventId: string }>((resolve, reject) =>
    client.record(ping(), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  ).finally(() => client.close());
}

describe('location-ingest over TLS', () => {
  const trusting = () => grpc.credentials.createSsl(certs.ca);

  it('serves TLS on PORT', () => {
    expect(ingest.tls).toBe(true);
  });

  it('answers health and reflection to a client that trusts the CA', async () => {
    expect(await healthStatus(ingest.port, '', trusting())).toBe('SERVING');
    expect(await healthStatus(ingest.port, INGEST_SERVICE_NAME, trusting())).toBe('SERVING');
    expect(await reflectedServices(ingest.port, 'v1', trusting())).toEqual(
      expect.arrayContaining([INGEST_SERVICE_NAME, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']),
    );
  });

  it('takes a ping over TLS (with a token), and answers UNAUTHENTICATED without one', async () => {
    expect(await record(ingest.port, trusting(), api.auth.organizer)).toEqual({ eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await failureOf(record(ingest.port, trusting())))?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('refuses a plaintext client', async () => {
    const err = await failureOf(healthStatus(ingest.port));
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect((await failureOf(record(ingest.port, grpc.credentials.createInsecure(), api.auth.organizer)))?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('is refused by a client that does not trust the CA (system roots, or another CA)', async () => {
    for (const creds of [grpc.credentials.createSsl(), grpc.credentials.createSsl(otherCa.ca)]) {
      const err = await failureOf(healthStatus(ingest.port, '', creds));
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(err?.details).toMatch(/unable to verify the first certificate/);
    }
  });
});

describe('location-ingest HEALTH_PORT (plaintext, for Kubernetes gRPC probes)', () => {
  it('answers grpc.health.v1.Health in plaintext, with the main port’s status', async () => {
    expect(ingest.healthPort).toEqual(expect.any(Number));
    expect(await healthStatus(ingest.healthPort!)).toBe('SERVING');
    expect(await healthStatus(ingest.healthPort!, INGEST_SERVICE_NAME)).toBe('SERVING');
  });

  it('does not serve LocationIngest nor reflection', async () => {
    const err = await failureOf(record(ingest.healthPort!, grpc.credentials.createInsecure(), api.auth.organizer));
    expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect((await failureOf(reflectedServices(ingest.healthPort!)))?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

// ------------------------------------------------------------------------------------ simulator

describe('simulator', () => {
  it('reaches location-ingest over TLS with the CA (runSimulation credentials), and not without it', async () => {
    const run = (credentials: grpc.ChannelCredentials) =>
      runSimulation({
        target: `127.0.0.1:${ingest.port}`,
        credentials,
        token: api.auth.organizer,
        personIds: [5],
        rate: 20,
        durationMs: 300,
        streams: 1,
        connectTimeoutMs: 3_000,
      });
    const stats = await run(grpc.credentials.createSsl(certs.ca));
    expect(stats.sent).toBeGreaterThan(0);
    expect({ acked: stats.acked, failed: stats.failed, errors: stats.errors }).toEqual({ acked: stats.sent, failed: 0, errors: [] });
    await expect(run(grpc.credentials.createSsl(otherCa.ca))).rejects.toBeInstanceOf(IngestUnreachableError);
    await expect(run(grpc.credentials.createInsecure())).rejects.toBeInstanceOf(IngestUnreachableError);
  });

  function simulate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/simulate.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('--tls --ca: streams to location-ingest and creates persons through https, trusting that CA; another CA fails verification', async () => {
    const target = `127.0.0.1:${ingest.port}`;
    const base = [
      '--api',
      `https://localhost:${apiPort}`,
      '--target',
      target,
      '--token',
      api.auth.organizer,
      '--persons',
      '2',
      '--rate',
      '20',
      '--duration',
      '1',
    ];
    const wrong = await simulate(['--tls', '--ca', otherCa.caFile, ...base]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`cannot reach person-api at https://localhost:${apiPort}`);
    expect(wrong.stderr).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    // --ca alone implies --tls.
    const right = await simulate(['--ca', certs.caFile, ...base]);
    // Only grpc-js's warning about an IP address as TLS server name (the target is 127.0.0.1) may be there.
    expect(right.stderr.replace(/^.*DEP0123.*\n|^\(Use `node --trace-deprecation.*\n/gm, '')).toBe('');
    expect(right.code).toBe(0);
    expect(right.stdout).toMatch(/acknowledged [1-9][\d,]* .*rejected 0 {3}failed 0/);
  });

  it('refuses --tls with an http:// API, and names an unreadable CA (exit 2)', async () => {
    const http = await simulate(['--tls', '--ca', certs.caFile, '--api', 'http://localhost:30001']);
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('--api must be an https:// URL with --tls');
    const missing = await simulate(['--ca', join(tmp.path, 'nope.crt')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the CA certificate .*nope\.crt \(ENOENT\)/);
  });
});
