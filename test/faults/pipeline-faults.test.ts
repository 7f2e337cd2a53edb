/**
 * Faults while pings flow: the writer killed, the broker restarted, PostgreSQL stopped for 20 s.
 * Each must end with every acknowledged ping stored exactly once. These tests stop shared
 * servers, so they run alone, after the other suites (jest.faults.config.js).
 *
 * The device here behaves like a real one: it streams batches and re-sends, with the same
 * event ids, whatever was not acknowledged (a failed call or a per-ping rejection).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { LocationIngestClient } from '@udaconnect/proto';
import { infraEnv, ROOT } from '../support/test-env';
import { Device, expectExactlyOnce, type FaultRig, sleep, startFaultRig, WriterProcess } from './fault-kit';

jest.setTimeout(240_000);

let rig: FaultRig;
let knex: Knex;
let client: LocationIngestClient;
let writer: WriterProcess;

beforeAll(async () => {
  rig = await startFaultRig('faults', infraEnv().kafkaBrokers);
  ({ knex, client } = rig);
  writer = new WriterProcess(rig.writerEnv, 'pipeline-writer');
  writer.start();
});

afterAll(async () => {
  await writer?.kill('SIGTERM');
  await rig?.close();
});

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
  await expectExactlyOnce(knex, device);
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
  await expectExactlyOnce(knex, device);
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
  await expectExactlyOnce(knex, device);
});
