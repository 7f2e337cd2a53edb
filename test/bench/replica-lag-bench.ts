/**
 * `node --import tsx test/bench/replica-lag-bench.ts [--samples 200] [--load 5000]`
 *
 * How much older than the primary a read from the streaming replica can be (the replica
 * connection-service reads FindConnections from with DATABASE_READ_URL). Provisions PostgreSQL,
 * makes sure the local replica runs (scripts/pg-replica.sh ensure), creates and migrates a benchmark
 * database on the primary (dropped at the end), then writes `--samples` pings on the primary one at a
 * time and, for each, reads the replica until it returns the row (test/support/replica.ts): once with
 * the primary otherwise idle, once while `--load` pings/s more are inserted in batches of a tenth of
 * that every 100 ms, as location-writer does (0: no second phase). Written to docs/benchmarks.md
 * under "## Read replica: staleness".
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { migrateLatest } from '../../db';
import { ensureReplica, lagSummary, measureReplicaLag, withPort, type LagMeasurement } from '../support/replica';
import {
  benchCleanups,
  createBenchDatabase,
  fmt,
  insertPersons,
  machineDescription,
  provision,
  readInfraEnv,
  withDatabase,
  writeDocSection,
} from './bench-support';

const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'benchmarks.md');

/** Inserts `perSecond` pings a second on its own connection, a tenth every 100 ms, until stopped. */
function backgroundWrites(knex: Knex, personIds: number[], perSecond: number): { stop(): Promise<number> } {
  let running = true;
  let written = 0;
  const batch = Math.max(1, Math.round(perSecond / 10));
  const loop = (async () => {
    let next = performance.now();
    while (running) {
      await knex.raw(
        `INSERT INTO location (person_id, coordinate, creation_time, event_id)
         SELECT (?::int[])[1 + (n % ?::int)], ST_SetSRID(ST_MakePoint(-150 + random() * 0.01, -50 + random() * 0.01), 4326)::geography, now(), gen_random_uuid()
           FROM generate_series(1, ?::int) AS n`,
        [personIds, personIds.length, batch],
      );
      written += batch;
      next += 100;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return written;
    },
  };
}

const walPosition = async (knex: Knex) => (await knex.raw<{ rows: Array<{ lsn: string }> }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
const walBytes = async (knex: Knex, from: string) =>
  Number((await knex.raw<{ rows: Array<{ bytes: string }> }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ?::pg_lsn) AS bytes', [from])).rows[0]!.bytes);

function row(label: string, m: LagMeasurement, extra: string): string {
  const s = lagSummary(m.lags);
  const reads = lagSummary(m.reads);
  return `| ${label} | ${fmt(s.n)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.max, 2)} | ${fmt(s.mean, 2)} | ${fmt(m.seenAtFirstRead)} | ${fmt(reads.p50, 2)} | ${extra} |`;
}

async function main() {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '200' }, load: { type: 'string', default: '5000' } } });
  const samples = Number(values.samples);
  const load = Number(values.load);
  if (!(samples > 0) || !(load >= 0)) throw new Error('--samples must be a positive number, --load a number ≥ 0');
  const command = `node --import tsx test/bench/replica-lag-bench.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;

  provision(ROOT);
  const { port } = await ensureReplica();
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dbName = `udaconnect_bench_replicalag_${stamp}`;
  const { cleanups, cleanUp } = benchCleanups();
  await createBenchDatabase(infra.DATABASE_URL, dbName, cleanups);
  const primary = knexFactory({ client: 'pg', connection: withDatabase(infra.DATABASE_URL, dbName), pool: { min: 0, max: 2 } });
  const replica = knexFactory({ client: 'pg', connection: withPort(withDatabase(infra.DATABASE_URL, dbName), port), pool: { min: 0, max: 1 } });
  cleanups.push({ name: 'connections', run: () => Promise.all([primary.destroy(), replica.destroy()]) });
  try {
    await migrateLatest(primary);
    const personIds = await insertPersons(primary, 100);
    // The new database reaches the replica through the WAL; wait for its persons there.
    const until = Date.now() + 60_000;
    for (;;) {
      const seen = await replica
        .raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM person')
        .then((r) => Number(r.rows[0]!.n))
        .catch(() => 0);
      if (seen === personIds.length) break;
      if (Date.now() > until) throw new Error(`the replica did not get ${dbName} within 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const idle = await measureReplicaLag(primary, replica, { samples, personId: personIds[0]! });
    let loaded: { m: LagMeasurement; rowsPerSecond: number; walMBps: number } | undefined;
    if (load > 0) {
      const writerKnex = knexFactory({ client: 'pg', connection: withDatabase(infra.DATABASE_URL, dbName), pool: { min: 0, max: 1 } });
      try {
        const started = performance.now();
        const writes = backgroundWrites(writerKnex, personIds.slice(1), load);
        await new Promise((r) => setTimeout(r, 1_000)); // let the load settle
        const from = await walPosition(primary);
        const t0 = performance.now();
        const m = await measureReplicaLag(primary, replica, { samples, personId: personIds[0]! });
        const seconds = (performance.now() - t0) / 1000;
        const wal = await walBytes(primary, from);
        const written = await writes.stop();
        loaded = { m, rowsPerSecond: written / ((performance.now() - started) / 1000), walMBps: wal / seconds / 1e6 };
      } finally {
        await writerKnex.destroy();
      }
    }

    const machine = machineDescription();
    const report = [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${machine.nproc} cores (${machine.cpu}), Node ${machine.node}, load ${machine.load}, PostgreSQL 15 primary and its streaming replica (scripts/pg-replica.sh) on the same machine.`,
      `Each of ${fmt(samples)} pings is written on the primary alone (INSERT, committed when it returns; \`synchronous_commit = on\`, asynchronous replication); the replica is then read (\`SELECT 1 FROM location WHERE id = …\`) until it returns the row. *Lag* is from the primary's acknowledgement to the first read that returned it, so it includes up to one read's round trip.`,
      '',
      '| primary | writes | lag p50 ms | p99 ms | max ms | mean ms | seen at the first read | one read of the replica, p50 ms | meanwhile |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
      row('otherwise idle', idle, ''),
      ...(loaded
        ? [row(`taking ${fmt(load)} more pings/s`, loaded.m, `${fmt(loaded.rowsPerSecond)} rows/s written meanwhile, ${fmt(loaded.walMBps, 1)} MB/s of WAL`)]
        : []),
      '',
      `What a user may see: a FindConnections answer read from the replica (DATABASE_READ_URL) can miss the pings the primary acknowledged in the last ~${fmt(
        Math.max(lagSummary(idle.lags).max, loaded ? lagSummary(loaded.m.lags).max : 0),
      )} ms (the largest lag above), on top of the ingest path's own delay from a device's acknowledgement to the row ("Ingest pipeline"). docs/scaling.md, "Read replica", has the failure cases and the bound readiness puts on them.`,
    ].join('\n');
    console.log(`\n${report}`);
    writeDocSection(DOC, '## Read replica: staleness', report);
  } finally {
    await cleanUp();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
