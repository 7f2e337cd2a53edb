/**
 * `npm start`'s runner (scripts/run-services.ts), for real: person-api, location-ingest,
 * connection-service and location-writer as child processes on a private test database and
 * private topics, on ports moved by UDACONNECT_PORT_OFFSET (30000–30004 stay free for `npm start`).
 *
 * The writer is SIGKILLed twice: the runner restarts it alone, after 1 s and then 2 s, and says so;
 * it answers again each time, while person-api, location-ingest and connection-service keep
 * answering throughout, with the same processes. SIGTERM to the runner then stops every child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { SERVICE_ROLES } from '../../db/roles';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';
import { isAlive, processTable } from '../support/processes';
import { healthStatus } from '../support/grpc-probes';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { infraEnv, ROOT, runId, serviceDatabaseUrl } from '../support/test-env';

jest.setTimeout(180_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SERVICES = ['person-api', 'location-ingest', 'connection-service', 'location-writer'] as const;
type Name = (typeof SERVICES)[number];
const BASE_PORT: Record<Name, number> = { 'person-api': 30001, 'location-ingest': 30002, 'connection-service': 30003, 'location-writer': 30004 };

/** The variables of .udaconnect/env, as scripts/start.sh loads them. */
function udaconnectEnv(): Record<string, string> {
  const file = join(ROOT, '.udaconnect', 'env');
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/**
 * An offset that moves 30000–30004 to five free ports in 30200–31449: below the ephemeral range
 * (32768+) that port-0 listeners get, and apart from start-signals.test.ts's 31500–32699.
 */
async function freePortOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 200 + 5 * Math.floor(Math.random() * 250);
    // The service ports 30000–30004 and the operator (metrics) ports 30011–30013.
    const free = await Promise.all([0, 1, 2, 3, 4, 11, 12, 13].map((i) => portFree(30000 + offset + i)));
    if (free.every(Boolean)) return offset;
  }
  throw new Error('no five free ports found');
}

/** The runner's children: service name → pid, from ps. */
function childPids(runnerPid: number): Partial<Record<Name, number>> {
  const out: Partial<Record<Name, number>> = {};
  for (const [pid, [ppid, args]] of processTable()) {
    if (ppid !== runnerPid) continue;
    const name = SERVICES.find((s) => args.includes(`modules/${s}/src/main.ts`));
    if (name) out[name] = pid;
  }
  return out;
}

let testDb: TestDatabase;
let runner: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
const output: string[] = [];
let offset: number;
const port = (name: Name) => BASE_PORT[name] + offset;
/** Every pid any child ever had: none may outlive the runner. */
const seenPids = new Set<number>();

function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string> {
  return eventually(
    () => {
      const line = output.find((l) => pattern.test(l));
      if (!line) throw new Error(`no output line matches ${pattern} within ${timeoutMs} ms; output:\n${output.slice(-40).join('\n')}`);
      return line;
    },
    timeoutMs,
    100,
  );
}

async function writerAnswers(): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port('location-writer')}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Polls the three services that must not notice the writer's restarts; counts what fails. */
function pollOthers() {
  const results = {
    'person-api': { ok: 0, failed: [] as string[] },
    'location-ingest': { ok: 0, failed: [] as string[] },
    'connection-service': { ok: 0, failed: [] as string[] },
  };
  let running = true;
  const loop = async (name: keyof typeof results, probe: () => Promise<void>) => {
    while (running) {
      try {
        await probe();
        results[name].ok++;
      } catch (err) {
        results[name].failed.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await sleep(100);
    }
  };
  const loops = [
    loop('person-api', async () => {
      const res = await fetch(`http://127.0.0.1:${port('person-api')}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status !== 200) throw new Error(`/healthz ${res.status}`);
    }),
    // gRPC health answers (SERVING or NOT_SERVING, which follows Kafka): the process is up and serving calls.
    loop('location-ingest', async () => void (await healthStatus(port('location-ingest')))),
    loop('connection-service', async () => void (await healthStatus(port('connection-service')))),
  ];
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

beforeAll(async () => {
  testDb = await createTestDatabase('runner');
  offset = await freePortOffset();
  const auth = await testAuth();
  const unique = `${runId()}.runner.${process.pid}`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...udaconnectEnv() };
  // Only the test database, through each service's own role; never the dev database.
  env.DATABASE_URL = testDb.url;
  for (const r of SERVICE_ROLES) env[r.urlEnv] = serviceDatabaseUrl(r.service, testDb.url);
  Object.assign(env, auth.env, {
    KAFKA_BROKERS: infraEnv().kafkaBrokers,
    LOCATIONS_TOPIC: `test.${unique}.locations`,
    LOCATIONS_DLQ_TOPIC: `test.${unique}.locations.dlq`,
    LOCATIONS_PARTITIONS: '1',
    KAFKA_GROUP_ID: `test.${unique}.writer`,
    UDACONNECT_PORT_OFFSET: String(offset),
    UDACONNECT_SERVICES: SERVICES.join(','),
    LOG_LEVEL: 'info',
  });
  delete env.UDACONNECT_TLS_DIR;
  delete env.LOG_FORMAT;
  delete env.NODE_ENV;

  runner = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/run-services.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => runner.once('exit', (code, signal) => resolve({ code, signal })));
  for (const stream of [runner.stdout!, runner.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      output.push(...lines);
    });
  }
  await waitForOutput(/UdaConnect is running/, 120_000);
});

afterAll(() => {
  if (process.env.RUNNER_TEST_OUTPUT) console.log(output.join('\n'));
});

afterAll(async () => {
  // Whatever a failed assertion left behind.
  if (runner && runner.exitCode === null && runner.signalCode === null) {
    for (const pid of Object.values(childPids(runner.pid!))) seenPids.add(pid);
    runner.kill('SIGKILL');
  }
  for (const pid of seenPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await testDb?.drop();
});

test('every service answers GET /metrics (Prometheus text) on its operator port, on the loopback interface only', async () => {
  const metricsPort: Record<Name, number> = { 'person-api': 30011, 'location-ingest': 30012, 'connection-service': 30013, 'location-writer': 30004 };
  // One request each way first, so the request metrics have something to count.
  await fetch(`http://127.0.0.1:${port('person-api')}/healthz`);
  await healthStatus(port('location-ingest'));
  for (const name of SERVICES) {
    const res = await fetch(`http://127.0.0.1:${metricsPort[name] + offset}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    expect(body).toContain(`process_resident_memory_bytes{service="${name}"}`);
    expect(body).toMatch(new RegExp(`^db_pool_connections\\{state="used",service="${name}"\\} \\d+$`, 'm'));
  }
  const api = await (await fetch(`http://127.0.0.1:${metricsPort['person-api'] + offset}/metrics`)).text();
  expect(api).toMatch(/^http_requests_total\{method="GET",route="\/healthz",status="200",service="person-api"\} [1-9]\d*$/m);
  // The operator ports are not on the public interfaces.
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (external) {
    await expect(fetch(`http://${external.address}:${metricsPort['person-api'] + offset}/metrics`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  }
});

test('a SIGKILLed service is restarted alone, with backoff; the others keep answering; SIGTERM stops everything', async () => {
  const before = childPids(runner.pid!);
  expect(Object.keys(before).sort()).toEqual([...SERVICES].sort());
  for (const pid of Object.values(before)) seenPids.add(pid);
  expect(await writerAnswers()).toBe(true);

  const poll = pollOthers();
  await sleep(500);

  // Twice: the first restart after 1 s, the second (it came right back down) after 2 s.
  let writerPid = before['location-writer']!;
  for (const [n, delayS] of [
    [1, 1],
    [2, 2],
  ] as const) {
    const killedAt = Date.now();
    process.kill(writerPid, 'SIGKILL');
    await waitForOutput(new RegExp(`^location-writer exited \\(SIGKILL\\); restarting in ${delayS} s \\(restart ${n}\\)$`), 10_000);
    const restarted = await eventually(
      () => {
        const pid = childPids(runner.pid!)['location-writer'];
        if (!pid || pid === writerPid) throw new Error('the writer has not been started again');
        return { pid, at: Date.now() };
      },
      30_000,
      50,
    );
    expect(restarted.at - killedAt).toBeGreaterThanOrEqual(delayS * 1000 - 100);
    seenPids.add(restarted.pid);
    writerPid = restarted.pid;
    await eventually(async () => expect(await writerAnswers()).toBe(true), 60_000, 200);
  }

  await sleep(500);
  const results = await poll.stop();
  for (const [name, r] of Object.entries(results)) {
    expect({ name, failed: r.failed }).toEqual({ name, failed: [] });
    expect(r.ok).toBeGreaterThan(10);
  }
  // The same processes all along: only the writer was restarted.
  const after = childPids(runner.pid!);
  for (const name of ['person-api', 'location-ingest', 'connection-service'] as const) expect(after[name]).toBe(before[name]);
  expect(after['location-writer']).toBe(writerPid);
  expect(output.filter((l) => /restarting in/.test(l))).toHaveLength(2);

  // Not a TTY: the services' lines are passed on as JSON, each naming its service, and kafkajs'
  // "Limiting retries for the idempotent producer" warning is not among them.
  const records = output.flatMap((l) => {
    try {
      return [JSON.parse(l) as { service?: string; msg?: string }];
    } catch {
      return [];
    }
  });
  for (const name of SERVICES) expect(records.some((r) => r.service === name)).toBe(true);
  expect(output.join('\n')).not.toContain('Limiting retries');

  runner.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const { code } = await Promise.race([exited, new Promise<{ code: number }>((r) => (timer = setTimeout(() => r({ code: -1 }), 40_000)))]);
  clearTimeout(timer);
  expect(code).toBe(0);
  for (const name of SERVICES) expect(output).toContainEqual(expect.stringMatching(new RegExp(`^${name} stopped \\(`)));
  expect([...seenPids].filter(isAlive)).toEqual([]);
  const stillAnswering = await Promise.all(SERVICES.map(async (s) => ((await portFree(port(s))) ? undefined : s)));
  expect(stillAnswering.filter(Boolean)).toEqual([]);
});
