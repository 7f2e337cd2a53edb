/**
 * `npm run bench:ingest [-- --duration 60 --rate 30000 --low-rate 10000 --persons 1000 --method batch|stream --quick]`
 *
 * The whole ingest pipeline on this machine: simulated devices → gRPC location-ingest →
 * Kafka → location-writer → PostGIS. Each service runs as its own process, as in production,
 * against a database and a topic created for this run (both unique, the database dropped
 * at the end). Two phases:
 *
 *   1. throughput: as fast as offered (default 30,000 pings/s) — target ≥ 40,000 pings/s end to end;
 *   2. latency:    10,000 pings/s — target p99 ≤ 1 s from acknowledgement to the row in PostGIS.
 *
 * Both targets are scale targets (docs/contract.md §7).
 *
 * The simulated devices send with `--method` (scripts/simulator/simulator.ts): `batch` (the
 * default) — RecordBatch calls of up to `--batch` pings, `--streams` of them in flight — or
 * `stream` — RecordStream calls of `--batch` pings, `--streams` written at once, each slot with up
 * to `--open-calls` ended ones awaiting their summary. Run both for an A/B comparison; the method
 * is named in the report.
 *
 * Latency: one ping in `--sample-every` (50) is sent with the unary Record call, whose
 * acknowledgement time is exact for that ping; the row's `received_at` (DEFAULT now(), i.e.
 * the writer's insert transaction start) is read back and compared. The result is printed as
 * a markdown table and written to docs/benchmarks.md under "## Ingest pipeline".
 *
 * `--flood [--flood-pings 100000 --settle 20]` runs instead the unknown-person flood:
 * one client (a process of its own: flood-sender.ts) sends one RecordStream of `--flood-pings` pings whose
 * person ids do not exist, while another client sends a known person's pings with Record (20 per second); reported: the known
 * client's Record p50/p99 during the flood, the flood's duration and summary size, and
 * location-ingest's RSS before, at its peak, right after and `--settle` seconds after. Written to
 * docs/benchmarks.md under "## Unknown-person flood". `--method` does not apply to the flood.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import * as grpc from '@grpc/grpc-js';
import { bearerInterceptor } from '@udaconnect/common';
import { LocationIngestClient, StreamSummary } from '@udaconnect/proto';
import { migrateLatest, seed } from '../../db';
import { MAX_BATCH, runSimulation, SEND_METHODS, type SendMethod, type SimulationStats } from '../../scripts/simulator/simulator';
import { floodPing, type FloodOrder, type FloodResult } from './flood-sender';
import { healthStatus } from '../support/grpc-probes';
import {
  cpuPercent,
  createBenchDatabase,
  findPids,
  fmt,
  freePort,
  histogramQuantile,
  logTail,
  machineDescription,
  percentile,
  provision,
  readCpu,
  readInfraEnv,
  benchCleanups,
  benchAuth,
  countRows,
  insertPersons,
  readMetrics,
  startService,
  stopService,
  waitUntil,
  withDatabase,
  writeDocSection,
  type CpuGroups,
  type Service,
} from './bench-support';

const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const HEADING = '## Ingest pipeline';
const P99_TARGET_MS = 1_000;
const THROUGHPUT_TARGET = 40_000;

// ---------------------------------------------------------------- options

const num = (fallback: number) => z.coerce.number().positive().default(fallback);
const optionsSchema = z.object({
  duration: num(60),
  rate: num(30_000),
  'low-rate': num(10_000),
  persons: z.coerce.number().int().min(1).max(100_000).default(1_000),
  /** RecordBatch (default) or RecordStream, for A/B runs. */
  method: z.enum(SEND_METHODS).default('batch'),
  // 8, not the CLI's 4: one stream slot (one connection) carries ~3,000 pings/s here, so 4 would measure the simulator.
  streams: z.coerce.number().int().min(1).max(64).default(8),
  /** Pings per call; at most MAX_BATCH with --method batch (checked below). */
  batch: z.coerce.number().int().min(1).default(500),
  /** With --method stream: RecordStream calls per stream slot that may await their summary at once. */
  'open-calls': z.coerce.number().int().min(1).default(4),
  'sample-every': z.coerce.number().int().min(1).default(50),
  'drain-timeout': num(60),
  partitions: z.coerce.number().int().min(1).default(6),
  quick: z.boolean().default(false),
  flood: z.boolean().default(false),
  'flood-pings': z.coerce.number().int().min(1).default(100_000),
  settle: z.coerce.number().min(0).default(20),
});
const BOOLEAN_OPTIONS = new Set(['quick', 'flood']);
type Options = z.infer<typeof optionsSchema>;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.keys(optionsSchema.shape).map((k) => [k, { type: BOOLEAN_OPTIONS.has(k) ? ('boolean' as const) : ('string' as const) }]),
    ),
  });
  const parsed = optionsSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`bench:ingest: --${issue.path.join('.')}: ${issue.message}`);
    process.exit(2);
  }
  const opts = parsed.data;
  if (opts.method === 'batch' && opts.batch > MAX_BATCH) {
    console.error(`bench:ingest: --batch: at most ${MAX_BATCH} pings per RecordBatch call with --method batch`);
    process.exit(2);
  }
  // --quick: a smoke run, unless a duration was given explicitly.
  if (opts.quick && values.duration === undefined) opts.duration = 10;
  return opts;
}

// ---------------------------------------------------------------- results

interface PhaseResult {
  name: string;
  offeredRate: number;
  durationS: number;
  sim: SimulationStats;
  stored: number;
  /** From the first ping sent until every acknowledged row was there (or the drain timeout). */
  firstToLastRowS: number;
  /** After the simulator stopped sending, until every acknowledged row was there. */
  drainS: number;
  drained: boolean;
  /** Rows per second during the send window, from the writer's counter (peak over 5 s). */
  peakRowsPerS: number;
  duplicates: number;
  writerDuplicates: number;
  deadLettered: number;
  samplesFound: number;
  ackToRow: { p50: number; p99: number; max: number; negative: number };
  sendToRow: { p50: number; p99: number; max: number };
  sendToAck: { p50: number; p99: number };
  writer: { batches: number; meanBatch: number; meanInsertMs: number; insertP50: string; insertP99: string };
  cpu: Record<string, number>;
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const command = `npm run bench:ingest${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const machine = machineDescription();

  console.log('[bench] provisioning (scripts/provision.sh)');
  provision(ROOT);
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const auth = await benchAuth(infra);

  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dbName = `udaconnect_bench_${stamp}`;
  const topic = `bench.${stamp}.locations`;
  const dlqTopic = `${topic}.dlq`;
  const groupId = `bench.${stamp}.location-writer`;
  const benchUrl = withDatabase(infra.DATABASE_URL, dbName);
  const logDir = join(ROOT, '.udaconnect', 'bench', stamp);
  mkdirSync(logDir, { recursive: true });

  const { cleanups, cleanUp } = benchCleanups();

  let bench: Knex | undefined;
  try {
    // ---- database: created, migrated, seeded, with the bench persons
    await createBenchDatabase(infra.DATABASE_URL, dbName, cleanups);
    bench = knexFactory({ client: 'pg', connection: benchUrl, pool: { min: 0, max: 2 } });
    await migrateLatest(bench);
    await seed(bench);
    const personIds = await insertPersons(bench, opts.persons);
    console.log(`[bench] database ${dbName}: migrated, seeded, ${personIds.length} bench persons; topic ${topic}`);

    // ---- services
    const [ingestPort, writerPort] = [await freePort(), await freePort()];
    const common = {
      DATABASE_URL: benchUrl,
      KAFKA_BROKERS: infra.KAFKA_BROKERS,
      LOCATIONS_TOPIC: topic,
      LOCATIONS_PARTITIONS: String(opts.partitions),
      LOG_LEVEL: 'info',
    };
    const ingest = startService(
      'location-ingest',
      'modules/location-ingest/src/main.ts',
      { ...common, ...auth.env, PORT: String(ingestPort), METRICS_PORT: '0' },
      ROOT,
      join(logDir, 'location-ingest.log'),
    );
    cleanups.push({ name: 'location-ingest', run: () => stopService(ingest) });
    const writer = startService(
      'location-writer',
      'modules/location-writer/src/main.ts',
      { ...common, PORT: String(writerPort), KAFKA_GROUP_ID: groupId, LOCATIONS_DLQ_TOPIC: dlqTopic },
      ROOT,
      join(logDir, 'location-writer.log'),
    );
    cleanups.push({ name: 'location-writer', run: () => stopService(writer) });
    const services = [ingest, writer];
    const metricsUrl = `http://127.0.0.1:${writerPort}/metrics`;
    await waitUntil('location-ingest to serve gRPC health SERVING', async () => (await healthStatus(ingestPort)) === 'SERVING', services, 90_000);
    await waitUntil('location-writer /readyz to answer 200', async () => (await fetch(`http://127.0.0.1:${writerPort}/readyz`)).ok, services, 90_000);
    console.log(
      `[bench] services up: location-ingest on :${ingestPort} (pid ${ingest.child.pid}), location-writer on :${writerPort} (pid ${writer.child.pid}); logs in ${logDir}`,
    );

    const cpuGroups: CpuGroups = {
      ingest: () => [ingest.child.pid!],
      writer: () => [writer.child.pid!],
      kafka: () => findPids((cmd) => cmd.includes('kafka.Kafka')),
      postgres: () => findPids((_cmd, comm) => comm === 'postgres'),
    };
    const ctx: PhaseContext = { opts, personIds, target: `127.0.0.1:${ingestPort}`, token: auth.token, metricsUrl, bench, services, cpuGroups };

    if (opts.flood) {
      const report = await runFlood(ctx, ingest.child.pid!, command, machine);
      console.log(`\n${report}`);
      writeDocSection(DOC, FLOOD_HEADING, report);
      console.log(`[bench] written to ${DOC}`);
      return;
    }

    const loadBefore = machine.load;
    const throughput = await runPhase(ctx, 'throughput', opts.rate);
    const latency = await runPhase(ctx, 'latency', opts['low-rate']);

    const report = renderReport({ command, machine, loadBefore, opts, phases: [throughput, latency], date: new Date() });
    console.log(`\n${report}`);
    writeDocSection(DOC, HEADING, report);
    console.log(`[bench] written to ${DOC}`);
  } finally {
    await bench?.destroy();
    await cleanUp();
  }
}

// ---------------------------------------------------------------- one phase

interface PhaseContext {
  opts: Options;
  personIds: number[];
  target: string;
  /** Organizer token: the ingest service verifies every call, as in production. */
  token: string;
  metricsUrl: string;
  bench: Knex;
  services: Service[];
  cpuGroups: CpuGroups;
}

async function runPhase(ctx: PhaseContext, name: string, rate: number): Promise<PhaseResult> {
  const { opts, bench } = ctx;
  const durationMs = opts.duration * 1000;
  console.log(
    `\n[bench] phase "${name}": ${fmt(rate)} pings/s offered for ${opts.duration} s (${sendingDescription(opts).replace(/`/g, '')}, 1 in ${opts['sample-every']} by Record)`,
  );
  const baseline = await countRows(bench);
  const metricsBefore = await readMetrics(ctx.metricsUrl);
  const cpuBefore = readCpu(ctx.cpuGroups);

  // The writer's committed-rows counter, every second: rows per second while sending.
  const timeline: Array<{ at: number; rows: number }> = [];
  const sampler = setInterval(() => {
    void readMetrics(ctx.metricsUrl)
      .then((m) => timeline.push({ at: Date.now(), rows: m.get('location_writer_rows_inserted_total') ?? 0 }))
      .catch(() => undefined);
  }, 1_000);

  const rowsBefore = metricsBefore.get('location_writer_rows_inserted_total') ?? 0;
  const rowsNow = () => timeline.at(-1)?.rows ?? rowsBefore;
  const startedAt = Date.now();
  let sim: SimulationStats;
  try {
    sim = await runSimulation(
      {
        target: ctx.target,
        token: ctx.token,
        personIds: ctx.personIds,
        rate,
        durationMs,
        method: opts.method,
        streams: opts.streams,
        batch: opts.batch,
        maxOpenCallsPerSlot: opts['open-calls'],
        sampleEvery: opts['sample-every'],
        drainTimeoutMs: opts['drain-timeout'] * 1000,
        seed: 1,
      },
      (p) => {
        const dead = ctx.services.find((s) => s.exited);
        const line = `[bench] ${name} ${(p.elapsedMs / 1000).toFixed(0).padStart(3)} s  sent ${fmt(p.sent)}  acked ${fmt(p.acked)} (${fmt(p.ackRate)}/s)  rejected ${fmt(p.rejected)}  failed ${fmt(p.failed)}  rows ${fmt(rowsNow() - rowsBefore)}`;
        console.log(dead ? `${line}  !! ${dead.name} exited` : line);
      },
    );
  } finally {
    clearInterval(sampler);
  }
  const sendEnd = startedAt + sim.sendingMs;

  // Drain: until every acknowledged ping is a row, or the timeout.
  const deadline = Date.now() + opts['drain-timeout'] * 1000;
  let stored = (await countRows(bench)) - baseline;
  while (stored < sim.acked && Date.now() < deadline) {
    const dead = ctx.services.find((s) => s.exited);
    if (dead) throw new Error(`${dead.name} exited during the drain:\n${logTail(dead.logFile)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    stored = (await countRows(bench)) - baseline;
  }
  const landedAt = Date.now();
  const cpuAfter = readCpu(ctx.cpuGroups);
  const metricsAfter = await readMetrics(ctx.metricsUrl);
  // The final count, after the writer metrics were read: rows beyond the acknowledged ones would show here.
  stored = (await countRows(bench)) - baseline;

  const delta = (k: string) => (metricsAfter.get(k) ?? 0) - (metricsBefore.get(k) ?? 0);
  const batches = delta('location_writer_batches_total');
  const insertCount = delta('location_writer_insert_duration_seconds_count');

  // Latency of the sampled pings: received_at is the insert transaction's start.
  const ids = sim.samples.map((s) => s.eventId);
  const rows = await bench.raw<{ rows: Array<{ event_id: string; received_ms: number }> }>(
    `SELECT event_id::text AS event_id, extract(epoch FROM received_at) * 1000 AS received_ms FROM location WHERE event_id = ANY(?::uuid[])`,
    [ids],
  );
  const received = new Map(rows.rows.map((r) => [r.event_id, Number(r.received_ms)]));
  const ackToRow: number[] = [];
  const sendToRow: number[] = [];
  for (const s of sim.samples) {
    const at = received.get(s.eventId);
    if (at === undefined) continue;
    ackToRow.push(at - s.ackedAt);
    sendToRow.push(at - s.sentAt);
  }
  const sendToAck = sim.samples.map((s) => s.ackedAt - s.sentAt);
  const dup = await bench.raw<{ rows: Array<{ n: number }> }>(`SELECT count(*) - count(DISTINCT event_id) AS n FROM location`);

  // Peak committed rows/s over 5 s windows of the send phase.
  let peakRowsPerS = 0;
  for (let i = 0; i < timeline.length; i++) {
    const j = timeline.findIndex((t) => t.at >= timeline[i]!.at + 5_000);
    if (j < 0) break;
    peakRowsPerS = Math.max(peakRowsPerS, ((timeline[j]!.rows - timeline[i]!.rows) * 1000) / (timeline[j]!.at - timeline[i]!.at));
  }

  const result: PhaseResult = {
    name,
    offeredRate: rate,
    durationS: opts.duration,
    sim,
    stored,
    firstToLastRowS: (landedAt - startedAt) / 1000,
    drainS: Math.max(0, landedAt - sendEnd) / 1000,
    drained: stored >= sim.acked,
    peakRowsPerS,
    duplicates: Number(dup.rows[0]?.n ?? 0),
    writerDuplicates: delta('location_writer_duplicates_total'),
    deadLettered: delta('location_writer_dlq_total'),
    samplesFound: ackToRow.length,
    ackToRow: { p50: percentile(ackToRow, 50), p99: percentile(ackToRow, 99), max: Math.max(...ackToRow), negative: ackToRow.filter((l) => l < 0).length },
    sendToRow: { p50: percentile(sendToRow, 50), p99: percentile(sendToRow, 99), max: Math.max(...sendToRow) },
    sendToAck: { p50: percentile(sendToAck, 50), p99: percentile(sendToAck, 99) },
    writer: {
      batches,
      meanBatch: batches > 0 ? delta('location_writer_messages_total') / batches : Number.NaN,
      meanInsertMs: insertCount > 0 ? (1000 * delta('location_writer_insert_duration_seconds_sum')) / insertCount : Number.NaN,
      insertP50: histogramQuantile('location_writer_insert_duration_seconds', metricsBefore, metricsAfter, 0.5),
      insertP99: histogramQuantile('location_writer_insert_duration_seconds', metricsBefore, metricsAfter, 0.99),
    },
    cpu: cpuPercent(cpuBefore, cpuAfter),
  };
  console.log(
    `[bench] ${name}: acked ${fmt(sim.acked)} (${fmt(sim.achievedRate)}/s), stored ${fmt(stored)} (${fmt(stored / result.firstToLastRowS)}/s first ping → last row), ` +
      `loss ${fmt(sim.acked - stored)}, ack→row p50 ${fmt(result.ackToRow.p50)} ms p99 ${fmt(result.ackToRow.p99)} ms`,
  );
  return result;
}

// ---------------------------------------------------------------- the unknown-person flood

const FLOOD_HEADING = '## Unknown-person flood';
const KNOWN_P99_TARGET_MS = 100;
/** "Memory back near its baseline": V8 keeps some heap it grew into, so a few tens of MB are allowed. */
const RSS_NEAR_BASELINE_MB = 25;

/** Resident set size of a process, in MB (/proc/<pid>/status VmRSS). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function runFlood(ctx: PhaseContext, ingestPid: number, command: string, machine: ReturnType<typeof machineDescription>): Promise<string> {
  const { opts } = ctx;
  const n = opts['flood-pings'];
  const loadBefore = machine.load;
  const options = { interceptors: [bearerInterceptor(ctx.token)] };
  // Two devices: the flooding one in a process of its own (flood-sender.ts), the measured one here.
  const device = new LocationIngestClient(ctx.target, grpc.credentials.createInsecure(), options);
  const knownId = ctx.personIds[0]!;
  const record = () =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      device.record(floodPing(knownId), (err) => (err ? reject(err) : resolve(performance.now() - started)));
    });

  // Warm up both paths, then the baseline: RSS and the known client's latency without a flood.
  for (let i = 0; i < 50; i++) await record();
  await new Promise((r) => setTimeout(r, 2_000));
  const rssBefore = rssMb(ingestPid);
  const quiet: number[] = [];
  for (let i = 0; i < 100; i++) {
    quiet.push(await record());
    await new Promise((r) => setTimeout(r, 50));
  }

  console.log(`\n[bench] flood: ${fmt(n)} pings for unknown persons on one RecordStream; a known person's Record every 50 ms meanwhile`);
  let rssPeak = rssBefore;
  const rssSampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(ingestPid))), 250);
  const during: number[] = [];
  let flooding = true;
  const knownLoop = (async () => {
    while (flooding) {
      during.push(await record());
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  let summary: StreamSummary;
  try {
    const order: FloodOrder = { target: ctx.target, token: ctx.token, pings: n, firstUnknownId: 900_000_000 };
    const sender = fork(join(__dirname, 'flood-sender.ts'), [JSON.stringify(order)], { execArgv: ['--import', 'tsx'] });
    const result = await new Promise<FloodResult>((resolve, reject) => {
      sender.once('message', (m) => resolve(m as FloodResult));
      sender.once('error', reject);
      sender.once('exit', (code) => reject(new Error(`the flood sender exited (${code}) without a result`)));
    });
    sender.kill();
    if ('error' in result) throw new Error(`the flood's RecordStream failed: ${result.error}`);
    summary = StreamSummary.decode(Buffer.from(result.summary, 'base64'));
  } finally {
    flooding = false;
    await knownLoop;
    clearInterval(rssSampler);
  }
  const floodS = (performance.now() - started) / 1000;
  const rssAfter = rssMb(ingestPid);
  console.log(`[bench] flood done in ${fmt(floodS, 1)} s; settling ${opts.settle} s`);
  await new Promise((r) => setTimeout(r, opts.settle * 1000));
  const rssSettled = rssMb(ingestPid);
  device.close();

  const summaryBytes = StreamSummary.encode(summary).finish().length;
  const p = (xs: number[], q: number) => fmt(percentile(xs, q), 1);
  const met = percentile(during, 99) < KNOWN_P99_TARGET_MS;
  const back = rssSettled - rssBefore <= RSS_NEAR_BASELINE_MB;
  return [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\`: location-ingest as its own process on a fresh database; ` +
      `one client sends one \`RecordStream\` of ${fmt(n)} pings whose person ids do not exist, while a second client (its own connection) sends a known person's ping with \`Record\` every 50 ms.`,
    '',
    '| | |',
    '|---|---:|',
    `| flood: duration / pings per second | ${fmt(floodS, 1)} s / ${fmt(n / floodS)} |`,
    `| flood summary: accepted / rejected / by reason | ${fmt(summary.accepted)} / ${fmt(summary.rejected)} / ${JSON.stringify(summary.rejectedByReason)} |`,
    `| flood summary: rejections listed / size | ${summary.rejections.length} / ${fmt(summaryBytes)} bytes |`,
    `| known client's Record before the flood: p50 / p99 (n) | ${p(quiet, 50)} / ${p(quiet, 99)} ms (${quiet.length}) |`,
    `| **known client's Record during the flood: p50 / p99 / max (n)** | **${p(during, 50)} / ${p(during, 99)}** / ${fmt(Math.max(...during), 1)} ms (${during.length}) |`,
    `| location-ingest RSS: before / peak / right after / ${opts.settle} s after | ${fmt(rssBefore)} / ${fmt(rssPeak)} / ${fmt(rssAfter)} / ${fmt(rssSettled)} MB |`,
    '',
    `Targets: the known client's Record p99 under ${KNOWN_P99_TARGET_MS} ms during the flood — ${met ? 'met' : 'not met'}; ` +
      `RSS within ${RSS_NEAR_BASELINE_MB} MB of its baseline ${opts.settle} s after the flood — ${back ? 'met' : 'not met'} ` +
      `(${fmt(Math.abs(rssSettled - rssBefore))} MB ${rssSettled >= rssBefore ? 'above' : 'below'} it; ${fmt(rssPeak - rssBefore)} MB above at the peak).`,
    '',
    `Machine: ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, load average before the run ${loadBefore}. ` +
      'The benchmark process, location-ingest, location-writer, Kafka and PostgreSQL share these cores; on a machine shared with other work the latencies are higher than on an idle one.',
  ].join('\n');
}

// ---------------------------------------------------------------- the report

/** How the simulated devices send, for the log and the report. */
function sendingDescription(opts: Options): string {
  const methods: Record<SendMethod, string> = {
    batch: `method \`batch\`: ${opts.streams} \`RecordBatch\` calls of up to ${opts.batch} pings in flight at a time`,
    stream: `method \`stream\`: ${opts.streams} \`RecordStream\` calls of ${opts.batch} pings written at a time, up to ${opts['open-calls']} per connection awaiting their summary`,
  };
  return methods[opts.method];
}

function renderReport(r: {
  command: string;
  machine: ReturnType<typeof machineDescription>;
  loadBefore: string;
  opts: Options;
  phases: PhaseResult[];
  date: Date;
}): string {
  const [tp, lat] = r.phases as [PhaseResult, PhaseResult];
  const cols = (f: (p: PhaseResult) => string) => r.phases.map(f).join(' | ');
  const e2e = (p: PhaseResult) => p.stored / p.firstToLastRowS;
  const ms = (n: number) => fmt(n);
  const row = (label: string, f: (p: PhaseResult) => string) => `| ${label} | ${cols(f)} |`;
  const tpMet = e2e(tp) >= THROUGHPUT_TARGET && tp.sim.acked - tp.stored === 0;
  const latAtRate = lat.sim.achievedRate >= 0.95 * lat.offeredRate;
  const latMet = lat.ackToRow.p99 <= P99_TARGET_MS && latAtRate;
  const cpuRow = (label: string, key: string) => row(label, (p) => `${fmt(p.cpu[key] ?? Number.NaN)} %`);
  const contended = r.phases.some((p) => (p.cpu.other ?? 0) > 15) || Number(r.loadBefore.split(' ')[0]) > 0.5;

  return [
    `Measured ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${r.command}\`: simulated devices (in the benchmark process) → location-ingest → Kafka → location-writer → PostGIS, each service its own process, on a fresh database and topic. ${fmt(r.opts.persons)} persons, sent with ${sendingDescription(r.opts)}, ${r.opts.partitions} partitions; 1 ping in ${r.opts['sample-every']} is sent with Record for the latency figures.`,
    '',
    `| | ${r.phases.map((p) => `${p.name} phase`).join(' | ')} |`,
    `|---|${r.phases.map(() => '---:').join('|')}|`,
    row('offered (pings/s) × duration', (p) => `${fmt(p.offeredRate)} × ${p.durationS} s`),
    row('sent / acknowledged', (p) => `${fmt(p.sim.sent)} / ${fmt(p.sim.acked)}`),
    row('rejected / failed', (p) => `${fmt(p.sim.rejected)} / ${fmt(p.sim.failed)}`),
    row('**acknowledged (pings/s)**', (p) => `**${fmt(p.sim.achievedRate)}**`),
    row('rows stored in PostGIS', (p) => fmt(p.stored)),
    row('**end to end (rows/s, first ping → last row)**', (p) => `**${fmt(e2e(p))}**`),
    row('peak rows/s committed (5 s window)', (p) => fmt(p.peakRowsPerS)),
    row('drain after sending stopped (s)', (p) => `${fmt(p.drainS, 1)}${p.drained ? '' : ' (timed out)'}`),
    row('**loss** (acknowledged − stored)', (p) => `**${fmt(p.sim.acked - p.stored)}**`),
    row('duplicate event ids in the table / replays skipped by the writer', (p) => `${fmt(p.duplicates)} / ${fmt(p.writerDuplicates)}`),
    row('dead-lettered', (p) => fmt(p.deadLettered)),
    row('latency samples (found / sent with Record)', (p) => `${fmt(p.samplesFound)} / ${fmt(p.sim.samples.length)}`),
    row('**ack → row p50 / p99 (ms)**', (p) => `**${ms(p.ackToRow.p50)} / ${ms(p.ackToRow.p99)}** (max ${ms(p.ackToRow.max)})`),
    row('send → row p50 / p99 (ms)', (p) => `${ms(p.sendToRow.p50)} / ${ms(p.sendToRow.p99)}`),
    row('send → ack (Record) p50 / p99 (ms)', (p) => `${ms(p.sendToAck.p50)} / ${ms(p.sendToAck.p99)}`),
    row('writer batches / mean size', (p) => `${fmt(p.writer.batches)} / ${fmt(p.writer.meanBatch)}`),
    row('writer insert per batch: mean / p50 / p99', (p) => `${fmt(p.writer.meanInsertMs, 1)} ms / ${p.writer.insertP50} / ${p.writer.insertP99}`),
    '',
    'CPU, in % of one core, from the start of a phase until its last row landed (`/proc/<pid>/stat`; the machine has ' +
      `${r.machine.nproc} cores = ${Number(r.machine.nproc) * 100} %):`,
    '',
    `| process | ${r.phases.map((p) => `${p.name} phase`).join(' | ')} |`,
    `|---|${r.phases.map(() => '---:').join('|')}|`,
    cpuRow('location-ingest', 'ingest'),
    cpuRow('location-writer', 'writer'),
    cpuRow('simulator (benchmark process)', 'self'),
    cpuRow('Kafka broker', 'kafka'),
    cpuRow('PostgreSQL (all its processes)', 'postgres'),
    cpuRow('everything else on the machine', 'other'),
    cpuRow('**machine total**', 'machine'),
    '',
    `Targets: **≥ ${fmt(THROUGHPUT_TARGET)} pings/s end to end** — ${tpMet ? 'met' : 'not met'} (${fmt(e2e(tp))} rows/s, loss ${fmt(tp.sim.acked - tp.stored)}); ` +
      `**p99 ≤ ${fmt(P99_TARGET_MS)} ms at ${fmt(lat.offeredRate)} pings/s** — ${latMet ? 'met' : 'not met'} (p99 ${ms(lat.ackToRow.p99)} ms${latAtRate ? '' : `, but only ${fmt(lat.sim.achievedRate)} pings/s were acknowledged`}).`,
    '',
    'How to read it:',
    '',
    "- *ack → row* is measured on the pings sent with the unary `Record` call (acknowledged one by one once Kafka has them), against the row's `received_at`. " +
      '`received_at` defaults to `now()`, the start of the writer\'s insert transaction; the row becomes visible at its commit, up to one "insert per batch" later (see that row). ' +
      'So the true ack → visible latency is at most *ack → row* plus the insert time; at the resolution asked here (seconds) that is precise enough. ' +
      `${r.phases.some((p) => p.ackToRow.negative > 0) ? "A negative value means the writer's transaction began before the ingest's acknowledgement reached the simulator (Kafka delivered the ping to the writer first). " : ''}` +
      `Pings sent in ${r.opts.method === 'batch' ? 'a `RecordBatch`' : 'a `RecordStream`'} are acknowledged only all together, when the call of up to ${r.opts.batch} ends, so they are not used for latency.`,
    ...(tp.sim.achievedRate < 0.95 * tp.offeredRate
      ? [
          `- The throughput phase offers more than the pipeline takes: the simulator sends as fast as location-ingest acknowledges (${
            r.opts.method === 'batch'
              ? `each of the ${r.opts.streams} slots sends its next \`RecordBatch\` only once the previous one is answered`
              : `each stream slot keeps at most ${r.opts['open-calls']} calls awaiting their summary and waits for gRPC flow control`
          }), so *acknowledged* is the pipeline's rate, not the offered one.` +
            (r.opts.method === 'stream'
              ? ' Measured on this machine: one stream slot (one HTTP/2 connection) carries about 3,000 pings/s; more calls per slot do not help, more slots do, until the CPU is used up.'
              : ''),
        ]
      : []),
    `- Everything runs on one machine: the simulator, both services, Kafka and PostgreSQL share its ${r.machine.nproc} cores, so the throughput is the machine's, not one service's. ` +
      'The CPU table shows where the time goes.' +
      (contended
        ? ` **Other work was running** (load average ${r.loadBefore} before the start; "everything else" above): the numbers are lower than on an idle machine.`
        : ''),
    '',
    `Machine: ${r.machine.nproc} × ${r.machine.cpu}, Node ${r.machine.node}, load average before the run ${r.loadBefore}.`,
    '',
    '```',
    `$ nproc\n${r.machine.nproc}\n$ free -g\n${r.machine.memory}`,
    '```',
  ].join('\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
