/**
 * What a benchmark needs besides the system under test: services as child processes, CPU
 * accounting from /proc, Prometheus text parsing, percentiles, and the docs/benchmarks.md
 * section it rewrites.
 */
import { organizerTokens } from '@udaconnect/common';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import knexFactory, { type Knex } from 'knex';
import { dropDatabaseForce } from '../support/drop-database';

// ---------------------------------------------------------------- child processes

export interface Service {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Set once the process has exited. */
  exited?: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Runs `node --import tsx <entry>` with `env`, its output appended to `logFile`. Extra node flags
 * for the services come from BENCH_NODE_FLAGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see
 * where a service spends its time (NODE_OPTIONS refuses --cpu-prof). `nice`: the process's
 * scheduling priority (nice(1), which execs node: same pid, every thread at that priority).
 */
export function startService(name: string, entry: string, env: Record<string, string>, cwd: string, logFile: string, opts: { nice?: number } = {}): Service {
  const log = createWriteStream(logFile, { flags: 'a' });
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const node = [process.execPath, ...flags, '--import', 'tsx', entry];
  const [command, ...args] = opts.nice ? ['nice', '-n', String(opts.nice), ...node] : node;
  const child = spawn(command!, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const service: Service = { name, child, logFile };
  child.once('exit', (code, signal) => {
    service.exited = { code, signal };
    // Let the pipes flush what the process wrote last before the log file is closed.
    setImmediate(() => log.end());
  });
  return service;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
export function stopService(service: Service, graceMs = 30_000): Promise<string> {
  if (service.exited) return Promise.resolve(describeExit(service.exited));
  return new Promise((resolve) => {
    const kill = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
    service.child.once('exit', (code, signal) => {
      clearTimeout(kill);
      resolve(describeExit({ code, signal }));
    });
    service.child.kill('SIGTERM');
  });
}

const describeExit = (e: { code: number | null; signal: NodeJS.Signals | null }) => (e.signal ? `signal ${e.signal}` : `exit ${e.code}`);

export function logTail(file: string, lines = 30): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** A TCP port free right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Polls `check` until it returns true, failing after `timeoutMs` or at once when one of
 * `services` has exited (with the tail of its log).
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, services: Service[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = services.find((s) => s.exited);
    if (dead) throw new Error(`${dead.name} exited (${describeExit(dead.exited!)}) while waiting for ${what}:\n${logTail(dead.logFile)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// ---------------------------------------------------------------- CPU from /proc

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user + system) a process has used so far; undefined if it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), starting at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime (14), stime (15)
  } catch {
    return undefined;
  }
}

/** Pids whose command line matches `test` (e.g. the Kafka broker's JVM, PostgreSQL's processes). */
export function findPids(test: (cmdline: string, comm: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (test(cmdline, comm)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy: busy / CLK_TCK, total: (busy + idle! + iowait!) / CLK_TCK };
}

/** CPU seconds of a group of processes; processes that start or end between two readings are not counted. */
export type CpuGroups = Record<string, () => number[]>;

export interface CpuReading {
  at: number;
  perPid: Map<number, number>;
  groups: Record<string, number[]>;
  machine: { busy: number; total: number };
  self: NodeJS.CpuUsage;
}

export function readCpu(groups: CpuGroups): CpuReading {
  const perPid = new Map<number, number>();
  const pids: Record<string, number[]> = {};
  for (const [name, find] of Object.entries(groups)) {
    pids[name] = find();
    for (const pid of pids[name]) {
      const s = processCpuSeconds(pid);
      if (s !== undefined) perPid.set(pid, s);
    }
  }
  return { at: Date.now(), perPid, groups: pids, machine: machineCpuSeconds(), self: process.cpuUsage() };
}

/** Per group: percent of one core used between two readings; plus this process, the machine and "everything else". */
export function cpuPercent(a: CpuReading, b: CpuReading): Record<string, number> {
  const wall = (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  let ours = 0;
  for (const [name, pids] of Object.entries(b.groups)) {
    let seconds = 0;
    for (const pid of pids) {
      const before = a.perPid.get(pid);
      const after = b.perPid.get(pid);
      if (before !== undefined && after !== undefined) seconds += after - before;
    }
    out[name] = (100 * seconds) / wall;
    ours += seconds;
  }
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  out.self = (100 * self) / wall;
  ours += self;
  const busy = b.machine.busy - a.machine.busy;
  out.machine = (100 * busy) / wall;
  out.other = Math.max(0, (100 * (busy - ours)) / wall);
  return out;
}

// ---------------------------------------------------------------- Prometheus text

/** `name{labels} value` lines into a map keyed by `name{labels}` (comments skipped). */
/**
 * Sample name (with its labels) → value. Every service labels its metrics with `service="…"` (a
 * registry default): that label is left out of the keys, so `location_writer_rows_inserted_total`
 * and `…_bucket{le="0.5"}` are found by their plain names.
 */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const key = line
      .slice(0, i)
      .replace(/([{,])service="[^"]*",?/, '$1')
      .replace(/,}$/, '}')
      .replace('{}', '');
    out.set(key, Number(line.slice(i + 1)));
  }
  return out;
}

/** The upper bound (s) of the histogram bucket holding quantile `q`, from two readings' difference. */
export function histogramQuantile(name: string, before: Map<string, number>, after: Map<string, number>, q: number): string {
  const buckets = [...after.keys()]
    .filter((k) => k.startsWith(`${name}_bucket{le="`))
    .map((k) => ({ le: k.slice(name.length + 12, -2), n: (after.get(k) ?? 0) - (before.get(k) ?? 0) }));
  const count = (after.get(`${name}_count`) ?? 0) - (before.get(`${name}_count`) ?? 0);
  if (count <= 0) return 'n/a';
  const hit = buckets.find((b) => b.n >= q * count);
  return hit ? (hit.le === '+Inf' ? `> ${buckets[buckets.length - 2]?.le ?? '?'} s` : `≤ ${Number(hit.le) * 1000} ms`) : 'n/a';
}

// ---------------------------------------------------------------- numbers

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

// ---------------------------------------------------------------- the machine and the docs

export function machineDescription(): { nproc: string; memory: string; cpu: string; node: string; load: string } {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const free = spawnSync('free', ['-g'], { encoding: 'utf8' }).stdout?.trimEnd() ?? '';
  return {
    nproc: spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.cpus().length),
    memory: free,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

const INTRO = `# Benchmarks

Numbers measured on a real machine by the \`npm run bench:*\` scripts (see \`test/bench/\`).
Each section is rewritten by its benchmark; the machine and the command are part of the result.
`;

/** Writes `body` as the section headed `heading` (replacing that section only), creating the file if needed. */
export function writeDocSection(file: string, heading: string, body: string): void {
  const section = `${heading}\n\n${body.trim()}\n`;
  if (!existsSync(file)) return writeFileSync(file, `${INTRO}\n${section}`);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join('\n').trimEnd();
  const after = lines.slice(end).join('\n').trim();
  writeFileSync(file, `${before ? `${before}\n\n` : ''}${section}${after ? `\n${after}\n` : ''}`);
}

// ---------------------------------------------------------------- infrastructure and bench databases

/** Runs scripts/provision.sh (idempotent: installs or starts PostgreSQL and Kafka if needed). */
export function provision(root: string): void {
  const prov = spawnSync('bash', [`${root}/scripts/provision.sh`], { cwd: root, stdio: 'inherit' });
  if (prov.status !== 0) throw new Error(`provisioning failed (exit ${prov.status})`);
}

/** DATABASE_URL and KAFKA_BROKERS from the file provision.sh writes (.udaconnect/env). */
export function readInfraEnv(file: string): { DATABASE_URL: string; KAFKA_BROKERS: string; AUTH_JWKS_FILE: string; AUTH_SIGNING_KEY_FILE: string } {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!;
  }
  const names = ['DATABASE_URL', 'KAFKA_BROKERS', 'AUTH_JWKS_FILE', 'AUTH_SIGNING_KEY_FILE'] as const;
  const missing = names.filter((n) => !vars[n]);
  if (missing.length) throw new Error(`${file} lacks ${missing.join(', ')}: run scripts/provision.sh`);
  return Object.fromEntries(names.map((n) => [n, vars[n]!])) as Record<(typeof names)[number], string>;
}

/**
 * Auth as the local stack has it: the services verify with the provisioned key set (auth on, as
 * in production) and the benchmark's clients send an organizer token, as `npm run token` makes.
 */
export async function benchAuth(infra: { AUTH_JWKS_FILE: string; AUTH_SIGNING_KEY_FILE: string }) {
  const { token } = await (await organizerTokens(infra.AUTH_SIGNING_KEY_FILE))('bench', 6 * 3600);
  return { env: { AUTH_JWKS_FILE: infra.AUTH_JWKS_FILE }, signingEnv: { AUTH_SIGNING_KEY_FILE: infra.AUTH_SIGNING_KEY_FILE }, token };
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Benchmark databases only: the name is checked before anything is created or dropped. */
const BENCH_DATABASE = /^udaconnect_bench_[a-z0-9_]+$/;

/** A short-lived connection to the server's default database, for CREATE/DROP DATABASE. */
async function onServer<T>(serverUrl: string, run: (admin: Knex) => Promise<T>): Promise<T> {
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  try {
    return await run(admin);
  } finally {
    await admin.destroy();
  }
}

/** Creates the database `name`; with `cleanups`, also registers its drop there (benchCleanups). */
export async function createBenchDatabase(serverUrl: string, name: string, cleanups?: Cleanups): Promise<void> {
  if (!BENCH_DATABASE.test(name)) throw new Error(`refusing to create ${name}: not a benchmark database name`);
  await onServer(serverUrl, (admin) => admin.raw(`CREATE DATABASE ${name}`));
  cleanups?.push({ name: `database ${name}`, run: () => dropBenchDatabase(serverUrl, name) });
}

async function dropBenchDatabase(serverUrl: string, name: string): Promise<void> {
  if (!BENCH_DATABASE.test(name)) throw new Error(`refusing to drop ${name}: not a benchmark database name`);
  await onServer(serverUrl, (admin) => dropDatabaseForce(admin, name));
}

/** Deletes a topic a benchmark created (absent: nothing to do). */
export async function deleteKafkaTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ clientId: 'udaconnect-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** The body of the section headed `heading` (without the heading), or undefined when absent. */
export function readDocSection(file: string, heading: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return undefined;
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  return lines
    .slice(start + 1, end)
    .join('\n')
    .trim();
}

/**
 * What a benchmark run created (database, services, topics), undone in reverse order by
 * `cleanUp()` at the end, or on Ctrl-C (then the process exits 130).
 */
/** What a benchmark undoes at its end, last registered first. */
type Cleanups = Array<{ name: string; run: () => Promise<unknown> }>;

export function benchCleanups() {
  const cleanups: Cleanups = [];
  const cleanUp = async () => {
    for (const c of cleanups.reverse()) {
      try {
        const r = await c.run();
        console.log(`[bench] cleaned up ${c.name}${typeof r === 'string' ? ` (${r})` : ''}`);
      } catch (err) {
        console.error(`[bench] clean-up of ${c.name} failed: ${(err as Error).message}`);
      }
    }
    cleanups.length = 0;
  };
  process.once('SIGINT', () => {
    console.error('\n[bench] interrupted; cleaning up');
    void cleanUp().then(() => process.exit(130));
  });
  return { cleanups, cleanUp };
}

// ---------------------------------------------------------------- the system under test

/** `n` persons named Bench 00001…, in chunks of 1,000; their ids. */
export async function insertPersons(knex: Knex, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let from = 1; from <= n; from += 1000) {
    const chunk = Array.from({ length: Math.min(1000, n - from + 1) }, (_, k) => ({
      first_name: 'Bench',
      last_name: String(from + k).padStart(5, '0'),
      company_name: 'Benchmark Inc.',
    }));
    const rows: Array<{ id: number }> = await knex('person').insert(chunk).returning('id');
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/** Rows in `location`. */
export async function countRows(knex: Knex): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM location');
  return Number(rows[0]!.n);
}

/** A service's /metrics, parsed. */
export async function readMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return parsePrometheus(await res.text());
}
