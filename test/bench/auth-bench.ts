/**
 * `npm run bench:auth [-- --requests 5000 --fresh 2000]`
 *
 * What token verification costs on the REST API. Two person-api processes on one benchmark
 * database (created, migrated and seeded for the run, dropped at the end): A checks a bearer
 * token on every request (the default), B runs with LEGACY_ANONYMOUS_READS and is called
 * without a token, so the same route and handler run without any token check. Requests
 * alternate A, B, A, B… on kept-alive node:http connections (GET /api/persons/5).
 * Also: `--fresh` requests to A, each with a token never seen before (the signature is
 * checked; a repeated token is served from the verification cache), and the raw cost of one
 * EdDSA verification in this process. Written to docs/benchmarks.md under "## Token verification".
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { createTokenVerifier, organizerTokens, readKeySetFile } from '@udaconnect/common';
import { migrateLatest, seed } from '../../db';
import {
  createBenchDatabase,
  benchCleanups,
  fmt,
  freePort,
  machineDescription,
  percentile,
  provision,
  readInfraEnv,
  startService,
  stopService,
  waitUntil,
  withDatabase,
  writeDocSection,
  type Service,
} from './bench-support';

const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'benchmarks.md');

function get(agent: http.Agent, url: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get(url, { agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${url} answered ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

const stats = (ms: number[]) => ({ p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) });

async function main() {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '5000' }, fresh: { type: 'string', default: '2000' } } });
  const requests = Number(values.requests);
  const fresh = Number(values.fresh);
  if (!(requests > 0) || !(fresh > 0)) throw new Error('--requests and --fresh must be positive numbers');
  const command = `npm run bench:auth${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

  provision(ROOT);
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const sign = await organizerTokens(infra.AUTH_SIGNING_KEY_FILE);
  const organizer = async () => (await sign('bench', 3600)).token;

  // The signature check alone, in this process: fresh tokens, then the same token again (cached).
  const verifier = createTokenVerifier({ keys: readKeySetFile(infra.AUTH_JWKS_FILE) });
  const tokens = await Promise.all(Array.from({ length: fresh }, organizer));
  let t0 = performance.now();
  for (const t of tokens) await verifier.verify(t);
  const verifyUs = ((performance.now() - t0) * 1000) / tokens.length;
  t0 = performance.now();
  for (let i = 0; i < 100_000; i++) await verifier.verify(tokens[0]!);
  const cachedUs = ((performance.now() - t0) * 1000) / 100_000;

  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dbName = `udaconnect_bench_auth_${stamp}`;
  const benchUrl = withDatabase(infra.DATABASE_URL, dbName);
  const logDir = join(ROOT, '.udaconnect', 'bench', stamp);
  mkdirSync(logDir, { recursive: true });
  const services: Service[] = [];
  const { cleanups, cleanUp } = benchCleanups();
  await createBenchDatabase(infra.DATABASE_URL, dbName, cleanups);
  try {
    const knex = knexFactory({ client: 'pg', connection: benchUrl, pool: { min: 0, max: 1 } });
    await migrateLatest(knex);
    await seed(knex);
    await knex.destroy();
    const [a, b] = [await freePort(), await freePort()];
    const env = (port: number, legacy: boolean) => ({
      DATABASE_URL: benchUrl,
      KAFKA_BROKERS: infra.KAFKA_BROKERS,
      AUTH_JWKS_FILE: infra.AUTH_JWKS_FILE,
      AUTH_SIGNING_KEY_FILE: infra.AUTH_SIGNING_KEY_FILE,
      LOCATIONS_TOPIC: `bench.${stamp}.locations`,
      LOCATIONS_PARTITIONS: '1',
      LOG_LEVEL: 'warn',
      LEGACY_ANONYMOUS_READS: String(legacy),
      PORT: String(port),
      METRICS_PORT: '0',
    });
    for (const [name, port, legacy, log] of [
      ['person-api (token)', a, false, 'person-api-a.log'],
      ['person-api (anonymous)', b, true, 'person-api-b.log'],
    ] as const) {
      const service = startService(name, 'modules/person-api/src/main.ts', env(port, legacy), ROOT, join(logDir, log));
      services.push(service);
      cleanups.push({ name, run: () => stopService(service) });
    }
    for (const port of [a, b]) {
      await waitUntil(
        `person-api on ${port}`,
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
        services,
        90_000,
      );
    }
    const [agentA, agentB] = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];
    const urlA = `http://127.0.0.1:${a}/api/persons/5`;
    const urlB = `http://127.0.0.1:${b}/api/persons/5`;
    const token = await organizer();
    for (let i = 0; i < 500; i++) {
      await get(agentA, urlA, token);
      await get(agentB, urlB);
    }
    const withToken: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < requests; i++) {
      withToken.push(await get(agentA, urlA, token));
      without.push(await get(agentB, urlB));
    }
    const freshMs: number[] = [];
    for (const t of await Promise.all(Array.from({ length: fresh }, organizer))) freshMs.push(await get(agentA, urlA, t));

    const A = stats(withToken);
    const B = stats(without);
    const F = stats(freshMs);
    const m = machineDescription();
    const report = [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${m.nproc} cores (${m.cpu}), Node ${m.node}, load ${m.load}.`,
      `GET /api/persons/5 on two person-api processes over one seeded database, ${fmt(requests)} requests each, alternating, after 500 each of warm-up; kept-alive node:http.`,
      '',
      '| | p50 ms | p95 ms | p99 ms |',
      '|---|---:|---:|---:|',
      `| bearer token checked (same token each time: verification cache) | ${fmt(A.p50, 3)} | ${fmt(A.p95, 3)} | ${fmt(A.p99, 3)} |`,
      `| no token check (LEGACY_ANONYMOUS_READS, no header) | ${fmt(B.p50, 3)} | ${fmt(B.p95, 3)} | ${fmt(B.p99, 3)} |`,
      `| a new token on every request (${fmt(fresh)}: signature checked each time) | ${fmt(F.p50, 3)} | ${fmt(F.p95, 3)} | ${fmt(F.p99, 3)} |`,
      '',
      `p50 difference, token checked vs none: ${fmt(A.p50 - B.p50, 3)} ms. In one process: an EdDSA verification (jose, Ed25519) takes ${fmt(verifyUs, 1)} µs; a cached token ${fmt(cachedUs, 2)} µs.`,
    ].join('\n');
    console.log(`\n${report}`);
    writeDocSection(DOC, '## Token verification', report);
  } finally {
    await cleanUp();
  }
}

main().catch((err) => {
  console.error(`bench:auth: ${(err as Error).stack}`);
  process.exit(1);
});
