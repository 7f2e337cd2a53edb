/**
 * `npm run bench:insert [-- --rows 200000 --batch 1000 --rounds 2]`
 *
 * Is the writer's one-statement insert (location-store.ts `insertPings`, arrays unnested by
 * PostgreSQL) beaten by COPY into a staging table + one INSERT … SELECT … ON CONFLICT?
 * What does the day-partitioned table (migration 0009) cost an insert, against the same
 * statement on the plain table before it (the schema migrated down, each round)?
 * And what does the GiST index (coordinate, creation_time), which the proximity query needs, cost?
 * On a fresh benchmark database (migrated, 1,000 persons; dropped at the end), one connection, each
 * variant inserts `--rows` new pings in batches of `--batch` into an emptied `location`, alternating
 * `--rounds` times; PostgreSQL's CPU is read from the backend's /proc/<pid>/stat. Then the writer's
 * insert once more with the GiST index dropped. Written to docs/benchmarks.md under
 * "## Writer insert: one statement vs COPY".
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { LocationPing } from '@udaconnect/domain';
import { migrateDown, migrateLatest } from '../../db';
import { insertPings } from '../../modules/location-writer/src/location-store';
import { ensurePartitions } from '../../modules/location-writer/src/partitions';
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

/** The alternative: the batch as COPY text into a temporary staging table, then one INSERT from it, in one transaction. */
async function insertByCopy(client: PoolClient, pings: readonly LocationPing[]): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS location_staging (p int, lon float8, lat float8, t timestamptz, e uuid) ON COMMIT DELETE ROWS`);
    const text = pings.map((p) => `${p.personId}\t${p.longitude}\t${p.latitude}\t${p.recordedAt!.toISOString()}\t${p.eventId}\n`).join('');
    await pipeline(Readable.from([text]), client.query(copyFrom('COPY location_staging FROM STDIN')));
    const { rowCount } = await client.query(
      `INSERT INTO location (person_id, coordinate, creation_time, event_id)
       SELECT p, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, t, e FROM location_staging
       ON CONFLICT (event_id, creation_time) DO NOTHING RETURNING event_id::text`,
    );
    await client.query('COMMIT');
    return rowCount ?? 0;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

/**
 * The writer's statement as it was before migration 0009 partitioned `location` by day: the same
 * unnest, with event_id alone as the key (the time-partitioning A/B runs it on the schema migrated down).
 */
async function insertUnpartitioned(knex: Knex, pings: readonly LocationPing[]): Promise<number> {
  const { rows } = await knex.raw<{ rows: unknown[] }>(
    `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     SELECT p, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, t, e
       FROM unnest(?::int[], ?::float8[], ?::float8[], ?::timestamptz[], ?::uuid[]) AS u(p, lon, lat, t, e)
     ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text`,
    [
      pings.map((p) => p.personId),
      pings.map((p) => p.longitude as number),
      pings.map((p) => p.latitude as number),
      pings.map((p) => p.recordedAt!.toISOString()),
      pings.map((p) => p.eventId),
    ],
  );
  return rows.length;
}

/** CPU seconds (user + system) the process `pid` has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Result {
  variant: string;
  rows: number;
  seconds: number;
  pgMicrosPerRow: number;
}

/** What the numbers say, from the means of the rounds. */
function verdict(results: Result[]): string {
  const mean = (prefix: string) => {
    const of = results.filter((r) => r.variant.startsWith(prefix));
    return of.reduce((n, r) => n + r.pgMicrosPerRow, 0) / of.length;
  };
  const writer = mean('one statement (');
  const copy = mean('COPY');
  const noGist = mean('one statement, without');
  const flat = mean('one statement into one plain table');
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${((x / writer) * 100).toFixed(0)} %`;
  return (
    `Means of the rounds: the one statement ${writer.toFixed(1)} µs of PostgreSQL CPU a row, COPY + INSERT ${copy.toFixed(1)} µs ` +
    `(${pct(copy - writer)}); the same statement into the table before it was partitioned by day ${flat.toFixed(1)} µs ` +
    `(the partitioned table costs ${pct(writer - flat)}). Without the GiST index the one statement costs ${noGist.toFixed(1)} µs: ` +
    `the index the proximity query reads is ${(((writer - noGist) / writer) * 100).toFixed(0)} % of an insert's cost (one run, indicative).`
  );
}

async function main(): Promise<void> {
  const { values: opts } = parseArgs({
    options: { rows: { type: 'string', default: '200000' }, batch: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '2' } },
  });
  const rows = Number(opts.rows);
  const batchSize = Number(opts.batch);
  const rounds = Number(opts.rounds);
  provision(ROOT);
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const machine = machineDescription();
  const dbName = `udaconnect_bench_insert_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const { cleanups, cleanUp } = benchCleanups();
  let knex: Knex | undefined;
  try {
    await createBenchDatabase(infra.DATABASE_URL, dbName, cleanups);
    // One connection: every statement of a variant runs on the same backend, whose CPU is read.
    knex = knexFactory({ client: 'pg', connection: withDatabase(infra.DATABASE_URL, dbName), pool: { min: 1, max: 1 } });
    await migrateLatest(knex);
    const personIds = await insertPersons(knex, 1000);
    const db = knex;
    const client = (await db.client.acquireConnection()) as PoolClient;
    const { rows: pidRows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = pidRows[0]!.pid;
    await db.client.releaseConnection(client);

    // The rows go to a day partition, as they do once the first day is past (on a fresh database
    // today's pings go to the table the migration kept): the day after tomorrow, made as the writer makes it.
    await ensurePartitions(db, 7);
    const t0 = (Math.floor(Date.now() / 86_400_000) + 2) * 86_400_000;
    const batches = (): LocationPing[][] =>
      Array.from({ length: Math.ceil(rows / batchSize) }, (_, b) =>
        Array.from({ length: Math.min(batchSize, rows - b * batchSize) }, (_, i) => {
          const n = b * batchSize + i;
          return {
            eventId: randomUUID(),
            personId: personIds[n % personIds.length]!,
            latitude: 37.55 + Math.random() * 1e-3,
            longitude: -122.29 + Math.random() * 1e-3,
            recordedAt: new Date(t0 + n * 10),
          };
        }),
      );
    const run = async (variant: string, insert: (pings: LocationPing[]) => Promise<number>): Promise<Result> => {
      await db.raw('TRUNCATE location');
      const work = batches();
      const cpu0 = cpuSeconds(backend);
      const started = performance.now();
      let written = 0;
      for (const pings of work) written += await insert(pings);
      const seconds = (performance.now() - started) / 1000;
      const result = { variant, rows: written, seconds, pgMicrosPerRow: ((cpuSeconds(backend) - cpu0) * 1e6) / written };
      console.log(`[bench] ${variant}: ${fmt(written / seconds)} rows/s, PostgreSQL ${result.pgMicrosPerRow.toFixed(1)} µs of CPU a row`);
      return result;
    };
    const writer = (pings: LocationPing[]) => insertPings(db, pings).then((r) => r.inserted);
    const copy = async (pings: LocationPing[]) => {
      const c = (await db.client.acquireConnection()) as PoolClient;
      try {
        return await insertByCopy(c, pings);
      } finally {
        await db.client.releaseConnection(c);
      }
    };
    const results: Result[] = [];
    for (let r = 0; r < rounds; r++) {
      results.push(await run('one statement (the writer today)', writer));
      results.push(await run('COPY into a staging table + INSERT … SELECT', copy));
      await migrateDown(db);
      results.push(await run('one statement into one plain table (before migration 0009), key event_id', (pings) => insertUnpartitioned(db, pings)));
      await migrateLatest(db);
      await ensurePartitions(db, 7);
    }
    await db.raw('DROP INDEX location_coordinate_time_gist');
    results.push(await run('one statement, without the GiST index (coordinate, creation_time)', writer));

    const table = results
      .map((r) => `| ${r.variant} | ${fmt(r.rows)} | ${r.seconds.toFixed(2)} | ${fmt(r.rows / r.seconds)} | ${r.pgMicrosPerRow.toFixed(1)} |`)
      .join('\n');
    writeDocSection(
      DOC,
      '## Writer insert: one statement vs COPY',
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench:insert -- --rows ${rows} --batch ${batchSize} --rounds ${rounds}\`: ${fmt(rows)} new pings into an emptied \`location\` (all of the schema's indexes), batches of ${fmt(batchSize)}, one connection, on ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, load average before the run ${machine.load}. PostgreSQL's CPU is its backend's (\`/proc/<pid>/stat\`).

| variant | rows | seconds | rows/s | PostgreSQL CPU µs a row |
|---|---:|---:|---:|---:|
${table}

${verdict(results)}`,
    );
  } finally {
    await knex?.destroy();
    await cleanUp();
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
