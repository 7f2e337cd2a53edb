/**
 * Faults while pings flow: the writer killed, the broker restarted, PostgreSQL stopped for 20 s.
 * Each must end with every acknowledged ping stored exactly once. These tests stop shared
 * servers, so they run alone, after the other suites (jest.faults.config.js).
 *
 * The device here behaves like a real one: it streams batches and re-sends, with the same
 * event ids, whatever was not acknowledged (a failed call or a per-ping rejection).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { createLogger, parseConfig } from '@udaconnect/common';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { createTestDatabase, type TestDatabase, testKnex } from '../support/test-database';
import { infraEnv, ROOT, runId, serviceDatabaseUrl } from '../support/test-env';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';

jest.setTimeout(240_000);
const logger = createLogger('faults-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** location-writer as a real process, restarted when it dies, as Kubernetes would. */
class WriterProcess {
  child: ChildProcess | undefined;
  restarts = 0;
  private stopping = false;
  constructor(private readonly env: Record<string, string>) {}
  start(): void {
    this.stopping = false;
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/location-writer/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    child.once('exit', () => {
      if (this.child === child && !this.stopping) {
        this.restarts++;
        setTimeout(() => !this.stopping && this.start(), 500);
      }
    });
    this.child = child;
  }
  kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child!;
    this.stopping = true;
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

/** Streams batches of pings; keeps every ping until it is acknowledged. */
class Device {
  acked = new Set<string>();
  private unacked: LocationPing[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  sent = 0;
  failures = 0;
  constructor(private readonly client: LocationIngestClient) {}

  private stream(pings: LocationPing[]): Promise<StreamSummary> {
    return new Promise((resolve, reject) => {
      const call = this.client.recordStream({ deadline: Date.now() + 20_000 }, (err, res) => (err ? reject(err) : resolve(res)));
      for (const p of pings) call.write(p);
      call.end();
    });
  }

  start(ratePerBatch = 100, intervalMs = 50): void {
    this.running = true;
    this.loop = (async () => {
      let i = 0;
      while (this.running) {
        const fresh = Array.from({ length: ratePerBatch }, () => ({
          eventId: randomUUID(),
          personId: [1, 5, 6, 8, 9][i++ % 5]!,
          latitude: 37.55 + Math.random() * 1e-3,
          longitude: -122.29 + Math.random() * 1e-3,
          recordedAt: new Date(),
        }));
        await this.send([...this.unacked.splice(0), ...fresh]);
        await sleep(intervalMs);
      }
    })();
  }

  private async send(batch: LocationPing[]): Promise<void> {
    this.sent += batch.length;
    try {
      const summary = await this.stream(batch);
      const rejected = new Set(summary.rejections.map((r) => Number(r.index)));
      batch.forEach((p, idx) => (rejected.has(idx) ? this.unacked.push(p) : this.acked.add(p.eventId)));
    } catch {
      this.failures++;
      this.unacked.push(...batch);
    }
  }

  /** Stops producing new pings, then re-sends until everything is acknowledged. */
  async finish(deadlineMs = 60_000): Promise<void> {
    this.running = false;
    await this.loop;
    const end = Date.now() + deadlineMs;
    while (this.unacked.length && Date.now() < end) {
      await this.send(this.unacked.splice(0));
      if (this.unacked.length) await sleep(500);
    }
    if (this.unacked.length) throw new Error(`${this.unacked.length} pings were never acknowledged`);
  }
}

let testDb: TestDatabase;
let knex: Knex;
let ingest: Awaited<ReturnType<typeof startIngest>>;
let client: LocationIngestClient;
let writer: WriterProcess;
const unique = `${runId()}.faults.${process.pid}`;
const topic = `test.${unique}.locations`;

beforeAll(async () => {
  testDb = await createTestDatabase('faults');
  knex = testKnex(testDb.url);
  const { kafkaBrokers } = infraEnv();
  const env = { DATABASE_URL: testDb.url, KAFKA_BROKERS: kafkaBrokers, LOCATIONS_TOPIC: topic, LOCATIONS_PARTITIONS: '3' };
  const auth = await testAuth();
  ingest = await startIngest(
    parseConfig(ingestConfigSchema, {
      ...env,
      ...auth.env,
      DATABASE_URL: serviceDatabaseUrl('location-ingest', testDb.url),
      PORT: '0',
      METRICS_PORT: '0',
      KAFKA_HEALTH_INTERVAL_MS: '1000',
    }),
    logger,
  );
  await ingest.untilReady();
  client = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions());
  writer = new WriterProcess({
    ...env,
    DATABASE_URL: serviceDatabaseUrl('location-writer', testDb.url),
    PORT: '0',
    METRICS_PORT: '0',
    KAFKA_GROUP_ID: `test.${unique}.writer`,
    LOCATIONS_DLQ_TOPIC: `${topic}.dlq`,
    LOG_LEVEL: 'warn',
  });
  writer.start();
});

afterAll(async () => {
  await writer?.kill('SIGTERM');
  client?.close();
  await ingest?.stop();
  await knex?.destroy();
  await testDb?.drop();
});

/** Every acknowledged ping is a row, once; and no row exists that was not acknowledged. */
async function expectExactlyOnce(device: Device): Promise<void> {
  const ids = [...device.acked];
  await eventually(
    async () => {
      const { rows } = await knex.raw('SELECT count(*)::int AS n FROM location WHERE event_id = ANY(?::uuid[])', [ids]);
      expect(rows[0].n).toBe(ids.length);
    },
    120_000,
    500,
  );
  const { rows } = await knex.raw(
    `SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct_ids FROM location WHERE creation_time > now() - interval '1 hour'`,
  );
  expect(rows[0].total).toBe(rows[0].distinct_ids);
  expect(rows[0].total).toBeGreaterThanOrEqual(ids.length);
}

test('the writer killed with SIGKILL mid-stream and started again: no loss, no duplicates', async () => {
  const device = new Device(client);
  device.start();
  await sleep(2_000);
  await writer.kill('SIGKILL');
  await sleep(2_000);
  writer.start();
  await sleep(2_000);
  await device.finish();
  expect(device.acked.size).toBeGreaterThan(1_000);
  await expectExactlyOnce(device);
});

/**
 * A fault test that cannot run on this machine is skipped loudly, never silently: the reason is
 * printed once when the file loads and becomes part of the test's name, so it shows in the
 * report next to the skip count.
 */
function faultTest(title: string, skipReason: string | undefined, fn: () => Promise<void>): void {
  if (skipReason === undefined) {
    test(title, fn);
    return;
  }
  console.warn(`[faults] SKIPPED "${title}": ${skipReason}`);
  test.skip(`${title} [SKIPPED: ${skipReason}]`, fn);
}

/** Why the broker may not be restarted here; undefined when it is this checkout's own (provision.sh started it). */
const brokerSkipReason = (): string | undefined => {
  const pidfile = join(ROOT, '.udaconnect', 'kafka', 'broker.pid');
  const why = `this test stops and restarts the broker, and only one that this checkout's scripts/provision.sh started (KAFKA_BROKERS=${infraEnv().kafkaBrokers})`;
  if (!existsSync(pidfile)) return `${why}; there is no .udaconnect/kafka/broker.pid`;
  const pid = readFileSync(pidfile, 'utf8').trim();
  if (spawnSync('kill', ['-0', pid]).status !== 0) return `${why}; .udaconnect/kafka/broker.pid names pid ${pid}, which is not running`;
  return undefined;
};

faultTest('the Kafka broker restarted mid-stream: every acknowledged ping stored once', brokerSkipReason(), async () => {
  const device = new Device(client);
  device.start();
  await sleep(2_000);
  const stop = spawnSync('bash', [join(ROOT, 'scripts/stop-infra.sh')], { encoding: 'utf8' });
  expect(stop.status).toBe(0);
  await sleep(3_000);
  const env = { ...process.env };
  delete env.KAFKA_BROKERS;
  delete env.DATABASE_URL;
  const start = spawnSync('bash', [join(ROOT, 'scripts/provision.sh')], { encoding: 'utf8', env });
  expect(start.status).toBe(0);
  await sleep(3_000);
  await device.finish(120_000);
  expect(device.acked.size).toBeGreaterThan(1_000);
  await expectExactlyOnce(device);
});

/** The local cluster on port 5432 as [version, name], or why PostgreSQL cannot be stopped and started here. */
const pgCluster = (): { cluster: string[] } | { skip: string } => {
  const r = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    return {
      skip: 'this test stops and starts a local PostgreSQL cluster with pg_ctlcluster, and pg_lsclusters is not available (no Debian postgresql-common here)',
    };
  const line = r.stdout.split('\n').find((l) => /\bonline\b/.test(l) && /\s5432\s/.test(l));
  if (!line) return { skip: 'this test stops and starts the local PostgreSQL cluster on port 5432, and pg_lsclusters shows none online' };
  if (process.getuid?.() !== 0) return { skip: 'this test stops and starts PostgreSQL with pg_ctlcluster, which needs root' };
  return { cluster: line.split(/\s+/).slice(0, 2) };
};
const pg = pgCluster();
const cluster = 'cluster' in pg ? pg.cluster : undefined;

faultTest('PostgreSQL stopped for 20 s mid-stream: once it is back, every acknowledged ping stored once', 'skip' in pg ? pg.skip : undefined, async () => {
  const [version, name] = cluster!;
  const device = new Device(client);
  device.start();
  await sleep(2_000);
  expect(spawnSync('pg_ctlcluster', [version!, name!, 'stop', '-m', 'fast']).status).toBe(0);
  try {
    await sleep(20_000);
  } finally {
    expect(spawnSync('pg_ctlcluster', [version!, name!, 'start']).status).toBe(0);
  }
  await sleep(2_000);
  await device.finish(120_000);
  expect(device.acked.size).toBeGreaterThan(1_000);
  await expectExactlyOnce(device);
});
