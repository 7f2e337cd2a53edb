/**
 * `npm run bench:connections [-- --pings 1000000 --queries 200 --layout days|single --quick --keep-db]`
 *
 * The proximity query (docs/contract.md §6) at scale, through the real path: HTTP → person-api →
 * gRPC → connection-service → PostGIS, each service its own process, on a database created
 * for this run (dropped at the end unless --keep-db).
 *
 *   1. Data, generated inside PostgreSQL (INSERT … SELECT generate_series, setseed, bound
 *      parameters only): 10,000 persons, --pings pings over 2025 in a 2 km × 2 km venue;
 *      70 % of them within 4 m of one of 500 booths, so that 5 m connections exist. With
 *      `--layout days` (the default) they are stored as a live system stores them, one partition
 *      per UTC day (migration 0009); `--layout single` keeps them all in one partition, as rows
 *      older than the migration are. The migration's indexes are dropped for the load, built
 *      partition by partition on --load-workers connections, then attached to the parent under
 *      their own names.
 *   2. The old system's storage beside it: `old_location`, geometry with X = latitude,
 *      btree indexes on coordinate and creation_time (the old init-db.sql), same rows and ids
 *      (not made with `--old-budget 0`, which leaves the old algorithm out: at 100M pings its
 *      copy would double the disk and each of its queries would take many minutes).
 *   3. --queries random 30-day, 5 m queries (after --warmup unmeasured ones), one at a time:
 *      through REST; then the same with findConnections in this process (the SQL alone);
 *      then with the old algorithm (one query for the person's pings, then one ST_DWithin on
 *      `coordinate::geography` per own ping), within --old-budget seconds, after --old-warmup
 *      unmeasured ones (at 10M, each old query takes minutes).
 *   4. EXPLAIN (ANALYZE, BUFFERS) of a typical query (the REST median), exactly the service's SQL.
 *
 * The report is printed and written to docs/benchmarks.md under "## Connections".
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import { migrateLatest } from '../../db';
import { createDatabase, createLogger } from '@udaconnect/common';
import { mulberry32 } from '@udaconnect/domain';
import {
  buildConnectionQuery,
  CONNECTION_SESSION_SETTINGS,
  findConnections,
  withCancellableConnection,
  type ConnectionQuery,
} from '../../modules/connection-service/src/connection-query';
import {
  createBenchDatabase,
  deleteKafkaTopic,
  fmt,
  freePort,
  machineDescription,
  percentile,
  provision,
  readDocSection,
  readInfraEnv,
  benchCleanups,
  benchAuth,
  startService,
  stopService,
  waitUntil,
  withDatabase,
  writeDocSection,
  type Service,
} from './bench-support';
import { explainPrepared } from '../support/explain-prepared';

const ROOT = join(__dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const HEADING = '## Connections';

/** Targets (docs/contract.md §7): REST p95 at 1M pings (25 ms) and at 10M (100 ms); ≥ 100× the old algorithm. */
const P95_TARGET_MS = (pings: number) => (pings >= 10_000_000 ? 100 : 25);
/** The scale targets (docs/contract.md §7), stricter: REST p95 ≤ 10 ms at 1M pings, ≤ 25 ms at 10M, ≤ 100 ms at 100M. */
const SCALE_P95_TARGET_MS = (pings: number) => (pings >= 100_000_000 ? 100 : pings >= 10_000_000 ? 25 : 10);
const SPEEDUP_TARGET = 100;

/** The venue: a 2 km square around San Francisco's Civic Center, over the year 2025. */
const VENUE = { latitude: 37.7749, longitude: -122.4194, sizeM: 2_000 };
const YEAR = { start: '2025-01-01', days: 365 };
const BOOTH_RADIUS_M = 4;
/** Share of pings at a booth by default: people gather at booths, so connections are many. */
const DEFAULT_BOOTH_SHARE = 0.7;
const M_PER_DEG_LAT = 111_320;
const M_PER_DEG_LON = 111_320 * Math.cos((VENUE.latitude * Math.PI) / 180);
const DAY_MS = 86_400_000;

// ---------------------------------------------------------------- options

const optionsSchema = z.object({
  pings: z.coerce.number().int().min(1_000).default(1_000_000),
  persons: z.coerce.number().int().min(2).max(1_000_000).default(10_000),
  queries: z.coerce.number().int().min(1).default(200),
  warmup: z.coerce.number().int().min(0).default(20),
  booths: z.coerce.number().int().min(1).default(500),
  /** Share of pings at a booth (the rest spread uniformly over the venue). */
  'booth-share': z.coerce.number().min(0).max(1).default(DEFAULT_BOOTH_SHARE),
  distance: z.coerce.number().positive().max(10_000).default(5),
  'window-days': z.coerce.number().int().min(1).max(YEAR.days).default(30),
  /** Seconds the old algorithm may take in all; it runs the queries in order until then (at least --old-min). 0: not run, and old_location not made. */
  'old-budget': z.coerce.number().min(0).default(300),
  'old-min': z.coerce.number().int().min(1).default(5),
  /** Unmeasured old-algorithm queries first, to warm its caches (at 10M each takes minutes). */
  'old-warmup': z.coerce.number().int().min(0).default(3),
  /** Queries whose location-id sets are compared between the old and the new algorithm. */
  'agreement-sample': z.coerce.number().int().min(0).default(20),
  seed: z.coerce.number().int().min(0).default(1),
  /** Pings per INSERT statement; statements run on up to --load-workers connections at once. */
  chunk: z.coerce.number().int().min(1_000).default(250_000),
  'load-workers': z.coerce.number().int().min(1).max(16).default(2),
  /** days: one partition per UTC day, as a live system stores pings; single: all in one partition, as rows older than migration 0009 are. */
  layout: z.enum(['days', 'single']).default('days'),
  'keep-db': z.boolean().default(false),
  quick: z.boolean().default(false),
});
type Options = z.infer<typeof optionsSchema>;
const BOOLEAN_FLAGS = new Set(['keep-db', 'quick']);

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(optionsSchema.shape).map((k) => [k, { type: BOOLEAN_FLAGS.has(k) ? ('boolean' as const) : ('string' as const) }])),
  });
  const parsed = optionsSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`bench:connections: --${issue.path.join('.')}: ${issue.message}`);
    process.exit(2);
  }
  const opts = parsed.data;
  // --quick: a smoke run, unless sizes were given explicitly.
  if (opts.quick) {
    if (values.pings === undefined) opts.pings = 100_000;
    if (values.queries === undefined) opts.queries = 50;
  }
  return opts;
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const command = `npm run bench:connections${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const machine = machineDescription();
  const loadBefore = machine.load;

  console.log('[bench] provisioning (scripts/provision.sh)');
  provision(ROOT);
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const auth = await benchAuth(infra);
  authorization = `Bearer ${auth.token}`;

  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dbName = `udaconnect_bench_conn_${stamp}`;
  const topic = `bench.conn.${stamp}.locations`;
  const benchUrl = withDatabase(infra.DATABASE_URL, dbName);
  const logDir = join(ROOT, '.udaconnect', 'bench', `conn-${stamp}`);
  mkdirSync(logDir, { recursive: true });

  const { cleanups, cleanUp } = benchCleanups();

  const knexes: Knex[] = [];
  try {
    await createBenchDatabase(infra.DATABASE_URL, dbName, opts['keep-db'] ? undefined : cleanups);
    if (opts['keep-db']) console.log(`[bench] --keep-db: ${dbName} stays after the run`);
    const bench = knexFactory({ client: 'pg', connection: benchUrl, pool: { min: 0, max: Math.max(2, opts['load-workers']) } });
    knexes.push(bench);
    await migrateLatest(bench);
    console.log(`[bench] database ${dbName} migrated; loading ${fmt(opts.pings)} pings for ${fmt(opts.persons)} persons`);

    // ---- data
    const load = await loadData(bench, opts);

    // ---- services
    const [csPort, apiPort] = [await freePort(), await freePort()];
    const cs = startService(
      'connection-service',
      'modules/connection-service/src/main.ts',
      { DATABASE_URL: benchUrl, PORT: String(csPort), METRICS_PORT: '0', LOG_LEVEL: 'info', ...auth.env },
      ROOT,
      join(logDir, 'connection-service.log'),
    );
    cleanups.push({ name: 'connection-service', run: () => stopService(cs) });
    const api = startService(
      'person-api',
      'modules/person-api/src/main.ts',
      {
        DATABASE_URL: benchUrl,
        KAFKA_BROKERS: infra.KAFKA_BROKERS,
        CONNECTION_SERVICE_ADDRESS: `localhost:${csPort}`,
        ...auth.env,
        ...auth.signingEnv,
        PORT: String(apiPort),
        METRICS_PORT: '0',
        LOCATIONS_TOPIC: topic,
        LOCATIONS_PARTITIONS: '1',
        LOG_LEVEL: 'info',
      },
      ROOT,
      join(logDir, 'person-api.log'),
    );
    cleanups.push({ name: 'person-api', run: () => stopService(api) });
    cleanups.push({ name: `topic ${topic}`, run: () => deleteKafkaTopic(infra.KAFKA_BROKERS, topic) });
    const services: Service[] = [cs, api];
    const base = `http://127.0.0.1:${apiPort}`;
    await waitUntil(
      'person-api /readyz with checks.connection_service true',
      async () => {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as { checks?: Record<string, boolean> };
        return res.ok && body.checks?.connection_service === true;
      },
      services,
      90_000,
    );
    console.log(
      `[bench] services up: connection-service on :${csPort} (pid ${cs.child.pid}), person-api on :${apiPort} (pid ${api.child.pid}); logs in ${logDir}`,
    );

    // ---- queries
    const { warmup, measured } = await pickQueries(bench, opts);
    console.log(`[bench] warm-up: ${warmup.length} queries through REST (not counted)`);
    for (const q of warmup) await restQuery(base, q, opts.distance);

    console.log(`[bench] REST: ${measured.length} queries, one at a time`);
    const rest: RestResult[] = [];
    for (const [i, q] of measured.entries()) {
      rest.push(await restQuery(base, q, opts.distance));
      if ((i + 1) % 50 === 0 || i + 1 === measured.length)
        console.log(
          `[bench]   ${i + 1}/${measured.length}  p50 so far ${fmt(
            percentile(
              rest.map((r) => r.ms),
              50,
            ),
            1,
          )} ms`,
        );
    }
    const dead = services.find((s) => s.exited);
    if (dead) throw new Error(`${dead.name} exited during the REST phase`);

    console.log(`[bench] SQL alone: the same ${measured.length} queries with findConnections in this process`);
    // The pool as connection-service's: CONNECTION_SESSION_SETTINGS on each connection.
    const sqlDb = createDatabase({ url: benchUrl, logger: createLogger('bench', 'warn'), poolMax: 1, sessionSettings: CONNECTION_SESSION_SETTINGS });
    const sqlKnex = sqlDb.knex;
    knexes.push(sqlKnex);
    for (const q of warmup) await sqlQuery(sqlKnex, q, opts.distance);
    const sql: SqlResult[] = [];
    for (const q of measured) sql.push(await sqlQuery(sqlKnex, q, opts.distance));
    const countMismatch = measured.filter((_, i) => rest[i]!.rows !== sql[i]!.rows.length).length;

    const withOld = opts['old-budget'] > 0;
    if (withOld) console.log(`[bench] old algorithm: the same queries in order, within ${opts['old-budget']} s (at least ${opts['old-min']})`);
    else console.log('[bench] old algorithm: not run (--old-budget 0)');
    const oldKnex = knexFactory({
      client: 'pg',
      connection: benchUrl,
      pool: {
        min: 1,
        max: 1,
        // As favourable to the old algorithm as possible: no JIT compilation, and the coercion
        // NOTICE its cast raises for every row is not shipped to the client.
        afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) =>
          conn.query('SET jit = off; SET client_min_messages = warning', (err) => done(err, conn)),
      },
    });
    knexes.push(oldKnex);
    if (withOld) for (const q of warmup.slice(0, opts['old-warmup'])) await oldQuery(oldKnex, q, opts.distance);
    const old: OldResult[] = [];
    const oldStarted = performance.now();
    for (const q of withOld ? measured : []) {
      if (old.length >= opts['old-min'] && performance.now() - oldStarted > opts['old-budget'] * 1000) break;
      old.push(await oldQuery(oldKnex, q, opts.distance));
      if (old.length % 25 === 0)
        console.log(
          `[bench]   ${old.length}/${measured.length}  p50 so far ${fmt(
            percentile(
              old.map((r) => r.ms),
              50,
            ),
          )} ms`,
        );
    }
    if (withOld) console.log(`[bench]   old algorithm ran ${old.length}/${measured.length} queries in ${fmt((performance.now() - oldStarted) / 1000, 1)} s`);

    // Agreement of the location-id sets (the old one has the axis bug and excludes end_date for own pings).
    const agreement = compareSets(
      old.slice(0, opts['agreement-sample']).map((o, i) => ({ old: o.ids, current: new Set(sql[i]!.rows.map((r) => r.location.id)) })),
    );

    // ---- plans: the service's SQL for the median REST query, and one old per-location query
    const order = rest.map((r, i) => ({ ms: r.ms, i })).sort((a, b) => a.ms - b.ms);
    const typical = measured[order[Math.floor(order.length / 2)]!.i]!;
    const plan = await explainNew(sqlKnex, typical, opts.distance);
    const oldPlan = withOld ? await explainOld(oldKnex, typical, opts.distance) : '';

    const report = renderReport({
      command,
      machine,
      loadBefore,
      date: new Date(),
      opts,
      load,
      measured,
      rest,
      sql,
      old,
      countMismatch,
      agreement,
      typical,
      plan,
      oldPlan,
    });
    console.log(`\n${report}`);
    if (opts.quick) console.log('[bench] --quick: docs/benchmarks.md left as it is');
    else {
      writeDocSection(DOC, HEADING, mergeRuns(readDocSection(DOC, HEADING), runHeading(opts), report));
      console.log(`[bench] written to ${DOC} (${HEADING}, ${runHeading(opts)})`);
    }
  } finally {
    agent.destroy();
    for (const k of knexes) await k.destroy().catch(() => undefined);
    await cleanUp();
  }
}

// ---------------------------------------------------------------- data

interface LoadStats {
  personsS: number;
  pingsS: number;
  /** Per index: its partitions' builds (summed over the connections) and the parent's attach. */
  indexes: Array<{ name: string; s: number }>;
  /** Wall time of the index builds (and the old_location copy, which runs beside them). */
  indexesS: number;
  /** Partitions holding rows. */
  partitions: number;
  oldCopyS: number;
  vacuumS: number;
  totalS: number;
  pingsAtBooths: number;
  personsWithPings: number;
  sizes: Array<{ name: string; size: string }>;
}

const seconds = (since: number) => (performance.now() - since) / 1000;
/** setseed() wants [-1, 1]; one distinct, reproducible seed per chunk. */
const seedFor = (seed: number, k: number) => (((seed * 7919 + k * 104_729) % 1_999_993) / 1_000_000 - 1).toFixed(6);

async function loadData(knex: Knex, opts: Options): Promise<LoadStats> {
  const started = performance.now();

  let t = performance.now();
  await knex.raw(
    `INSERT INTO person (first_name, last_name, company_name)
     SELECT 'Bench', lpad(g::text, 7, '0'), 'Company ' || (1 + g % 250) FROM generate_series(1, ?::int) g`,
    [opts.persons],
  );
  const { rows: idRange } = await knex.raw<{ rows: Array<{ lo: number; n: string }> }>('SELECT min(id) AS lo, count(*) AS n FROM person');
  const firstPerson = idRange[0]!.lo;
  const personsS = seconds(t);

  // Booths: uniform in the venue, 10 m from its edge.
  await knex.raw('CREATE TABLE bench_booth (id int PRIMARY KEY, latitude float8 NOT NULL, longitude float8 NOT NULL)');
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT setseed(?::float8)', [seedFor(opts.seed, 0)]);
    await trx.raw(
      `INSERT INTO bench_booth
       SELECT g, ?::float8 + (random() - 0.5) * ?::float8, ?::float8 + (random() - 0.5) * ?::float8 FROM generate_series(1, ?::int) g`,
      [VENUE.latitude, (VENUE.sizeM - 20) / M_PER_DEG_LAT, VENUE.longitude, (VENUE.sizeM - 20) / M_PER_DEG_LON, opts.booths],
    );
  });

  if (opts.layout === 'days') {
    // A fresh database: the legacy partition (migration 0009) is empty. Without it, each day of the
    // benchmark's year gets its own partition, as days after the migration get theirs in production.
    await knex.raw('ALTER TABLE location DETACH PARTITION location_legacy');
    await knex.raw('DROP TABLE location_legacy');
    await knex.raw('SELECT count(*) FROM location_ensure_partitions(?::date, ?::int)', [YEAR.start, YEAR.days]);
  }

  // The migration's indexes and constraints (but the primary key) go for the load and come back with the same names.
  const { rows: defs } = await knex.raw<{ rows: Array<{ name: string; def: string; is_constraint: boolean }> }>(
    `SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS def, true AS is_constraint
       FROM pg_constraint c WHERE c.conrelid = 'location'::regclass AND c.contype IN ('u', 'f')
     UNION ALL
     SELECT i.relname, pg_get_indexdef(i.oid), false
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = 'location'::regclass AND NOT x.indisprimary
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
  );
  for (const d of defs) await knex.raw(d.is_constraint ? `ALTER TABLE location DROP CONSTRAINT ${d.name}` : `DROP INDEX ${d.name}`);

  // Pings in chunks: each chunk seeds random() itself, so the data does not depend on how chunks are spread over connections.
  // Times rise with the row number (random inside each row's slot of the year), as pings arrive in a live system.
  t = performance.now();
  const chunks: Array<[number, number, number]> = [];
  for (let from = 1, k = 1; from <= opts.pings; from += opts.chunk, k++) chunks.push([k, from, Math.min(opts.pings, from + opts.chunk - 1)]);
  let loaded = 0;
  const insertChunk = async ([k, from, to]: [number, number, number]) => {
    await knex.transaction(async (trx) => {
      await trx.raw('SELECT setseed(?::float8)', [seedFor(opts.seed, k)]);
      await trx.raw(
        `INSERT INTO location (person_id, coordinate, creation_time, event_id)
         SELECT r.person_id,
                ST_SetSRID(ST_MakePoint(
                  CASE WHEN r.u_booth < :share::float8 THEN b.lons[r.booth] + :radius::float8 * sqrt(r.u1) * cos(2 * pi() * r.u2) / :mlon::float8
                       ELSE :lon0::float8 + (r.u1 - 0.5) * :size::float8 / :mlon::float8 END,
                  CASE WHEN r.u_booth < :share::float8 THEN b.lats[r.booth] + :radius::float8 * sqrt(r.u1) * sin(2 * pi() * r.u2) / :mlat::float8
                       ELSE :lat0::float8 + (r.u2 - 0.5) * :size::float8 / :mlat::float8 END), 4326)::geography,
                :t0::timestamptz + ((r.g - 1 + r.ut) / :n::float8) * (:days::float8 * interval '1 day'),
                gen_random_uuid()
           FROM (SELECT g, :p0::int + floor(random() * :persons::int)::int AS person_id, random() AS u_booth,
                        1 + floor(random() * :booths::int)::int AS booth, random() AS u1, random() AS u2, random() AS ut
                   FROM generate_series(:from::bigint, :to::bigint) g
                 OFFSET 0) r,
                (SELECT array_agg(longitude ORDER BY id) AS lons, array_agg(latitude ORDER BY id) AS lats FROM bench_booth) b`,
        {
          share: opts['booth-share'],
          radius: BOOTH_RADIUS_M,
          mlon: M_PER_DEG_LON,
          mlat: M_PER_DEG_LAT,
          lon0: VENUE.longitude,
          lat0: VENUE.latitude,
          size: VENUE.sizeM,
          t0: `${YEAR.start}T00:00:00Z`,
          n: opts.pings,
          days: YEAR.days,
          p0: firstPerson,
          persons: opts.persons,
          booths: opts.booths,
          from,
          to,
        },
      );
    });
    loaded += to - from + 1;
    const s = seconds(t);
    console.log(
      `[bench]   pings ${fmt(loaded).padStart(12)} / ${fmt(opts.pings)} (${fmt((100 * loaded) / opts.pings).padStart(3)} %)  ${fmt(s, 1)} s  ${fmt(loaded / s)} rows/s`,
    );
  };
  await inParallel(chunks, opts['load-workers'], insertChunk);
  const pingsS = seconds(t);

  // Indexes: each partition's own, built on --load-workers connections at once (the GiSTs and the
  // largest partitions first), then the parent's, which PostgreSQL makes by attaching them.
  // (CREATE INDEX on the parent alone would build every partition's one after the other.)
  const { rows: leaves } = await knex.raw<{ rows: Array<{ name: string }> }>(
    `SELECT c.relname AS name
       FROM pg_partition_tree('location') t JOIN pg_class c ON c.oid = t.relid
      WHERE t.isleaf AND pg_relation_size(t.relid) > 0
      ORDER BY pg_relation_size(t.relid) DESC, c.relname`,
  );
  const indexSeconds = new Map<string, number>(defs.map((d) => [d.name, 0]));
  const inTransaction = async (name: string, sql: string) => {
    const t0 = performance.now();
    await knex.transaction(async (trx) => {
      await trx.raw(`SET LOCAL maintenance_work_mem = '1GB'`);
      await trx.raw(sql);
    });
    indexSeconds.set(name, indexSeconds.get(name)! + seconds(t0));
  };
  // Printed as ON ONLY the parent: on a partition the statement is the same, unnamed (PostgreSQL names it).
  const onPartition = (d: (typeof defs)[number], leaf: string) =>
    d.is_constraint
      ? `ALTER TABLE ${leaf} ADD ${d.def}`
      : d.def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ /, (_m, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX ON ${leaf} `);
  const isGist = (d: (typeof defs)[number]) => /using gist/i.test(d.def);
  const jobs: Array<() => Promise<void>> = [];
  for (const d of [...defs.filter(isGist), ...defs.filter((d) => !isGist(d))])
    for (const leaf of leaves) jobs.push(() => inTransaction(d.name, onPartition(d, leaf.name)));
  let oldCopyS = 0;
  if (opts['old-budget'] > 0)
    jobs.push(async () => {
      const t0 = performance.now();
      await createOldLocation(knex);
      oldCopyS = seconds(t0);
      console.log(`[bench]   old_location (copy, primary key, btree on coordinate and on creation_time): ${fmt(oldCopyS, 1)} s`);
    });
  t = performance.now();
  let done = 0;
  await inParallel(jobs, opts['load-workers'], async (job) => {
    await job();
    done++;
    if (done % Math.max(1, Math.round(jobs.length / 20)) === 0 || done === jobs.length)
      console.log(`[bench]   indexes: ${fmt(done)} / ${fmt(jobs.length)} builds (${leaves.length} partitions with rows)  ${fmt(seconds(t), 1)} s`);
  });
  for (const d of defs)
    await inTransaction(d.name, d.is_constraint ? `ALTER TABLE location ADD CONSTRAINT ${d.name} ${d.def}` : d.def.replace(' ON ONLY ', ' ON '));
  const indexesS = seconds(t);
  const indexes = defs.map((d) => ({ name: d.name, s: indexSeconds.get(d.name)! }));
  for (const i of indexes) console.log(`[bench]   ${i.name}: ${fmt(i.s, 1)} s summed over the partitions`);

  t = performance.now();
  await knex.raw('VACUUM (ANALYZE) person');
  await knex.raw('VACUUM (ANALYZE) location');
  if (opts['old-budget'] > 0) await knex.raw('VACUUM (ANALYZE) old_location');
  const vacuumS = seconds(t);
  console.log(`[bench]   VACUUM (ANALYZE): ${fmt(vacuumS, 1)} s`);

  const { rows: shape } = await knex.raw<{ rows: Array<{ persons: string }> }>('SELECT count(DISTINCT person_id) AS persons FROM location');
  // Each of location's sizes is the sum over its partitions (migration 0009).
  const { rows: sizes } = await knex.raw<{ rows: Array<{ name: string; size: string }> }>(
    `SELECT c.relname AS name, pg_size_pretty(CASE WHEN c.relkind IN ('p', 'I') THEN (SELECT sum(pg_relation_size(t.relid)) FROM pg_partition_tree(c.oid) t)::bigint
                                ELSE pg_relation_size(c.oid) END) AS size
       FROM pg_class c
      WHERE c.relname IN ('location', 'old_location')
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (to_regclass('location'), to_regclass('old_location')))
      ORDER BY c.relkind IN ('i', 'I'), c.relname`,
  );
  // Pings within a booth's radius (from the GiST index, one probe per booth).
  const { rows: atBooth } = await knex.raw<{ rows: Array<{ n: string }> }>(
    `SELECT count(DISTINCT l.id) AS n
       FROM bench_booth b
       JOIN location l ON ST_DWithin(l.coordinate, ST_SetSRID(ST_MakePoint(b.longitude, b.latitude), 4326)::geography, ?::float8)`,
    [BOOTH_RADIUS_M + 0.5],
  );
  const totalS = seconds(started);
  console.log(`[bench] data ready in ${fmt(totalS, 1)} s`);
  return {
    personsS,
    pingsS,
    indexes,
    indexesS,
    partitions: leaves.length,
    oldCopyS,
    vacuumS,
    totalS,
    pingsAtBooths: Number(atBooth[0]!.n),
    personsWithPings: Number(shape[0]!.persons),
    sizes,
  };
}

/** The old system's table, as its init-db.sql created it (geometry, X = latitude), holding the same pings with the same ids. */
async function createOldLocation(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE old_location (
      id            bigint NOT NULL,
      person_id     int NOT NULL,
      coordinate    geometry(Point, 4326) NOT NULL,
      creation_time timestamp NOT NULL
    )`);
  await knex.raw(`
    INSERT INTO old_location (id, person_id, coordinate, creation_time)
    SELECT id, person_id, ST_SetSRID(ST_Point(ST_Y(coordinate::geometry), ST_X(coordinate::geometry)), 4326), creation_time AT TIME ZONE 'UTC'
      FROM location ORDER BY id`);
  await knex.transaction(async (trx) => {
    await trx.raw(`SET LOCAL maintenance_work_mem = '1GB'`);
    await trx.raw('ALTER TABLE old_location ADD PRIMARY KEY (id)');
    await trx.raw('CREATE INDEX old_coordinate_idx ON old_location (coordinate)'); // btree on a geometry, as the old system had
    await trx.raw('CREATE INDEX old_creation_time_idx ON old_location (creation_time)');
  });
}

async function inParallel<T>(items: T[], workers: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

// ---------------------------------------------------------------- queries

interface Query {
  personId: number;
  /** YYYY-MM-DD, both included. */
  startDate: string;
  endDate: string;
}

const addDays = (date: string, days: number) => new Date(new Date(`${date}T00:00:00Z`).getTime() + days * DAY_MS).toISOString().slice(0, 10);

async function pickQueries(knex: Knex, opts: Options): Promise<{ warmup: Query[]; measured: Query[] }> {
  const { rows } = await knex.raw<{ rows: Array<{ id: number }> }>(
    'SELECT p.id FROM person p WHERE EXISTS (SELECT 1 FROM location l WHERE l.person_id = p.id) ORDER BY p.id',
  );
  const ids = rows.map((r) => r.id);
  const random = mulberry32(opts.seed * 1_000_003 + 17);
  const one = (): Query => {
    const startDate = addDays(YEAR.start, Math.floor(random() * (YEAR.days - opts['window-days'] + 1)));
    return { personId: ids[Math.floor(random() * ids.length)]!, startDate, endDate: addDays(startDate, opts['window-days'] - 1) };
  };
  const warmup = Array.from({ length: opts.warmup }, one);
  return { warmup, measured: Array.from({ length: opts.queries }, one) };
}

/** The range the service queries: whole UTC days, both included (docs/contract.md §6). */
const toConnectionQuery = (q: Query, distance: number): ConnectionQuery => ({
  personId: q.personId,
  start: new Date(`${q.startDate}T00:00:00Z`),
  end: new Date(new Date(`${q.endDate}T00:00:00Z`).getTime() + DAY_MS),
  distanceMeters: distance,
  groupByPerson: false,
});

interface RestResult {
  ms: number;
  rows: number;
  bytes: number;
}

/**
 * The benchmark's HTTP client: node:http on one kept-alive connection, as lean as curl. (fetch,
 * i.e. undici with WHATWG streams, added ~0.5 ms per call on this machine: the client's cost,
 * not the API's.)
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
/** The organizer token every REST call carries (set in main). */
let authorization = '';
function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { authorization } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function restQuery(base: string, q: Query, distance: number): Promise<RestResult> {
  const url = `${base}/api/persons/${q.personId}/connection?start_date=${q.startDate}&end_date=${q.endDate}&distance=${distance}`;
  const t0 = performance.now();
  const { status, body } = await httpGet(url);
  const ms = performance.now() - t0;
  if (status !== 200) throw new Error(`GET ${url} answered ${status}: ${body.slice(0, 500)}`);
  return { ms, rows: (JSON.parse(body) as unknown[]).length, bytes: Buffer.byteLength(body) };
}

interface SqlResult {
  ms: number;
  rows: Array<{ location: { id: number } }>;
}

/** findConnections, exactly as connection-service runs it (its session settings, one statement), without gRPC and HTTP. */
async function sqlQuery(knex: Knex, q: Query, distance: number): Promise<SqlResult> {
  const t0 = performance.now();
  // On one connection of the pool, as connection-service runs it (its statements prepared on that connection).
  const result = await withCancellableConnection(knex, undefined, (db) => findConnections(db, toConnectionQuery(q, distance)));
  const ms = performance.now() - t0;
  if (result.kind !== 'connections') throw new Error(`person ${q.personId}: ${result.kind}`);
  return { ms, rows: result.connections.map((c) => ({ location: { id: Number(c.location.id) } })) };
}

interface OldResult {
  ms: number;
  ownLocations: number;
  /** Rows returned, duplicates included (the old API returned them all). */
  rows: number;
  ids: Set<number>;
}

const OLD_OWN_SQL = `SELECT id, person_id, ST_X(coordinate) AS x, ST_Y(coordinate) AS y, creation_time
  FROM old_location WHERE person_id = ? AND creation_time < ?::timestamp AND creation_time >= ?::timestamp`;
const OLD_NEARBY_SQL = `SELECT person_id, id, ST_X(coordinate), ST_Y(coordinate), creation_time
  FROM old_location
 WHERE ST_DWithin(coordinate::geography, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?)
   AND person_id != ?
   AND TO_DATE(?, 'YYYY-MM-DD') <= creation_time
   AND TO_DATE(?, 'YYYY-MM-DD') > creation_time`;

/**
 * The old ConnectionService.find_contacts: the person's pings in [start_date, end_date) (own
 * pings excluded end_date), then one query per ping for others' pings in [start_date,
 * end_date + 1 day), with `ST_MakePoint(latitude, longitude)` where "latitude" is X as stored.
 */
async function oldQuery(knex: Knex, q: Query, distance: number): Promise<OldResult> {
  const othersEnd = addDays(q.endDate, 1);
  const t0 = performance.now();
  const own = await knex.raw<{ rows: Array<{ x: number; y: number }> }>(OLD_OWN_SQL, [q.personId, q.endDate, q.startDate]);
  const ids = new Set<number>();
  let rows = 0;
  for (const l of own.rows) {
    const found = await knex.raw<{ rows: Array<{ id: string }> }>(OLD_NEARBY_SQL, [l.x, l.y, distance, q.personId, q.startDate, othersEnd]);
    rows += found.rows.length;
    for (const r of found.rows) ids.add(Number(r.id));
  }
  return { ms: performance.now() - t0, ownLocations: own.rows.length, rows, ids };
}

interface Agreement {
  queries: number;
  identical: number;
  both: number;
  onlyOld: number;
  onlyNew: number;
}

function compareSets(pairs: Array<{ old: Set<number>; current: Set<number> }>): Agreement {
  const a: Agreement = { queries: pairs.length, identical: 0, both: 0, onlyOld: 0, onlyNew: 0 };
  for (const { old, current } of pairs) {
    let both = 0;
    for (const id of old) if (current.has(id)) both++;
    a.both += both;
    a.onlyOld += old.size - both;
    a.onlyNew += current.size - both;
    if (both === old.size && both === current.size) a.identical++;
  }
  return a;
}

/**
 * EXPLAIN ANALYZE on a connection with the service's session settings (sqlKnex), of the plan the
 * service runs: the statement prepared, then executed with the query's values, so the plan is
 * the generic one (plan_cache_mode), as for the service's named prepared statement.
 */
async function explainNew(knex: Knex, q: Query, distance: number): Promise<string> {
  const { sql, bindings } = buildConnectionQuery(toConnectionQuery(q, distance));
  const rows = await explainPrepared<{ 'QUERY PLAN': string }>(knex, 'ANALYZE, BUFFERS', sql, bindings);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** The plan of one of the old per-location queries (the first own ping of the same query). */
async function explainOld(knex: Knex, q: Query, distance: number): Promise<string> {
  const own = await knex.raw<{ rows: Array<{ x: number; y: number }> }>(OLD_OWN_SQL, [q.personId, q.endDate, q.startDate]);
  const l = own.rows[0];
  if (!l) return '(the person has no own ping in [start_date, end_date) in the old storage)';
  const { rows } = await knex.raw<{ rows: Array<{ 'QUERY PLAN': string }> }>(`EXPLAIN (ANALYZE, BUFFERS) ${OLD_NEARBY_SQL}`, [
    l.x,
    l.y,
    distance,
    q.personId,
    q.startDate,
    addDays(q.endDate, 1),
  ]);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

// ---------------------------------------------------------------- the report

interface ReportInput {
  command: string;
  machine: ReturnType<typeof machineDescription>;
  loadBefore: string;
  date: Date;
  opts: Options;
  load: LoadStats;
  measured: Query[];
  rest: RestResult[];
  sql: SqlResult[];
  old: OldResult[];
  countMismatch: number;
  agreement: Agreement;
  typical: Query;
  plan: string;
  oldPlan: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : Number.NaN);
/** A ratio: one decimal below 10. */
const times = (n: number) => `${fmt(n, n < 10 ? 1 : 0)}×`;
const ms1 = (n: number) => (n < 10 ? fmt(n, 2) : n < 100 ? fmt(n, 1) : fmt(n));

function renderReport(r: ReportInput): string {
  const { opts, load } = r;
  const restMs = r.rest.map((x) => x.ms);
  const sqlMs = r.sql.map((x) => x.ms);
  const oldMs = r.old.map((x) => x.ms);
  const n = r.old.length;
  // The ratio is taken over the queries the old algorithm ran (the first n).
  const restSame = restMs.slice(0, n);
  const sqlSame = sqlMs.slice(0, n);
  const p = (xs: number[], q: number) => percentile(xs, q);
  const ratioP50 = p(oldMs, 50) / p(restSame, 50);
  const ratioTotal = sum(oldMs) / sum(restSame);
  const target = P95_TARGET_MS(opts.pings);
  const scaleTarget = SCALE_P95_TARGET_MS(opts.pings);
  const p95 = p(restMs, 95);
  const latencyMet = p95 <= target;
  const speedMet = ratioP50 >= SPEEDUP_TARGET && ratioTotal >= SPEEDUP_TARGET;
  const rowsOf = r.rest.map((x) => x.rows);
  const overhead = r.rest.map((x, i) => x.ms - r.sql[i]!.ms);
  const execTime = /Execution Time: ([\d.]+) ms/.exec(r.plan)?.[1];
  const typicalIdx = r.measured.indexOf(r.typical);
  const bootShare = (100 * load.pingsAtBooths) / opts.pings;
  const a = r.agreement;
  const latencyRow = (label: string, xs: number[]) =>
    `| ${label} | ${xs.length} | ${ms1(p(xs, 50))} | ${ms1(p(xs, 95))} | ${ms1(p(xs, 99))} | ${ms1(Math.max(...xs))} | ${ms1(mean(xs))} | ${fmt(sum(xs) / 1000, 2)} s |`;

  const oldLines = () => [
    latencyRow(`old algorithm (N+1, \`coordinate::geography\`), the first ${n} queries`, oldMs),
    '',
    `Old algorithm, on the same ${n} queries (${fmt(mean(r.old.map((o) => o.ownLocations)), 1)} own pings per query on average, so ${fmt(1 + mean(r.old.map((o) => o.ownLocations)), 1)} SQL round trips):`,
    '',
    '| | old algorithm | REST (new) | SQL alone (new) | old ÷ REST | old ÷ SQL alone |',
    '|---|---:|---:|---:|---:|---:|',
    `| p50 (ms) | ${ms1(p(oldMs, 50))} | ${ms1(p(restSame, 50))} | ${ms1(p(sqlSame, 50))} | **${times(ratioP50)}** | ${times(p(oldMs, 50) / p(sqlSame, 50))} |`,
    `| p95 (ms) | ${ms1(p(oldMs, 95))} | ${ms1(p(restSame, 95))} | ${ms1(p(sqlSame, 95))} | ${times(p(oldMs, 95) / p(restSame, 95))} | ${times(p(oldMs, 95) / p(sqlSame, 95))} |`,
    `| p99 (ms) | ${ms1(p(oldMs, 99))} | ${ms1(p(restSame, 99))} | ${ms1(p(sqlSame, 99))} | ${times(p(oldMs, 99) / p(restSame, 99))} | ${times(p(oldMs, 99) / p(sqlSame, 99))} |`,
    `| total (s) | ${fmt(sum(oldMs) / 1000, 2)} | ${fmt(sum(restSame) / 1000, 2)} | ${fmt(sum(sqlSame) / 1000, 2)} | **${times(ratioTotal)}** | ${times(sum(oldMs) / sum(sqlSame))} |`,
    '',
    `The old algorithm runs in the benchmark process with knex, on \`old_location\`: the same rows and ids stored as the old system stored them (\`geometry\`, X = latitude; \`creation_time timestamp\`; primary key and btree indexes on \`coordinate\` and \`creation_time\`, as its \`init-db.sql\` had), with its SQL text: the person's pings in [start_date, end_date), then per ping \`ST_DWithin(coordinate::geography, ST_SetSRID(ST_MakePoint(:latitude, :longitude), 4326)::geography, :meters)\` on others' pings in [start_date, end_date + 1 day), one round trip each. ` +
      'It is measured as favourably as possible: no HTTP in front of it, no load of every person per request (the old code did that too), JIT off, and the "coordinates were coerced" NOTICE its cast raises for each row is not sent to the client (`client_min_messages = warning`). ' +
      (n < r.measured.length
        ? `It ran the first ${n} of the ${r.measured.length} queries, within the \`--old-budget\` of ${opts['old-budget']} s; the ratios compare the same ${n} queries.`
        : 'It ran every query.'),
    '',
    `Agreement of the sets of other persons' location ids, first ${a.queries} queries: identical for ${a.identical} of ${a.queries}; ${fmt(a.both)} ids found by both, ${fmt(a.onlyOld)} only by the old algorithm, ${fmt(a.onlyNew)} only by the new one ` +
      `(${fmt((100 * a.both) / Math.max(1, a.both + a.onlyOld + a.onlyNew), 1)} % of all ids found agree). They are not expected to agree exactly: the old storage swaps the axes, so its "geodesic" distances are computed on coerced points (latitude −122.42 folded to −57.58) and stretched differently along each axis, and the old algorithm leaves out the person's own pings on \`end_date\` (docs/contract.md §8).`,
    '',
  ];
  const lines = [
    `Measured ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${r.command}\`: HTTP → person-api → gRPC → connection-service → PostGIS, each service its own process, on a database created for the run.`,
    '',
    '#### Dataset',
    '',
    `- ${fmt(opts.persons)} persons, **${fmt(opts.pings)} pings** (${fmt(load.personsWithPings)} persons have pings, ${fmt(opts.pings / opts.persons)} each on average), generated inside PostgreSQL (\`INSERT … SELECT generate_series\`, \`setseed\`, deterministic for \`--seed ${opts.seed}\`).`,
    `- Times: over ${YEAR.start} … ${addDays(YEAR.start, YEAR.days - 1)}, rising with the row number (random within each row's slot), so the table is in time order as a live table is.`,
    `- Positions: a ${fmt(VENUE.sizeM)} m × ${fmt(VENUE.sizeM)} m venue around (${VENUE.latitude}, ${VENUE.longitude}); ${fmt(100 * opts['booth-share'])} % of pings uniformly within ${BOOTH_RADIUS_M} m of one of ${fmt(opts.booths)} booths (${fmt(bootShare, 1)} % of all pings lie within ${BOOTH_RADIUS_M + 0.5} m of a booth), the rest uniform over the venue.`,
    `- Layout: ${opts.layout === 'days' ? `one partition per UTC day, as a live system stores pings (\`--layout days\`): ${fmt(load.partitions)} partitions hold rows` : `all rows in one partition (\`--layout single\`), as rows older than migration 0009 are`}.`,
    `- Load: persons ${fmt(load.personsS, 1)} s; pings ${fmt(load.pingsS, 1)} s (${fmt(opts.pings / load.pingsS)} rows/s, inserted through the parent, ${opts['load-workers']} connections, chunks of ${fmt(opts.chunk)}, the migration's indexes dropped); ` +
      `indexes built partition by partition on ${opts['load-workers']} connections, then attached to the parent under their migration names, **${fmt(load.indexesS, 1)} s** (per index, summed over the connections: ${load.indexes.map((i) => `${i.name} ${fmt(i.s, 1)} s`).join(', ')}${r.old.length ? `; the old_location copy, ${fmt(load.oldCopyS, 1)} s, ran beside them` : ''}); VACUUM ANALYZE ${fmt(load.vacuumS, 1)} s; **total ${fmt(load.totalS, 1)} s**.`,
    `- Sizes: ${load.sizes.map((s) => `${s.name} ${s.size}`).join(', ')}.`,
    '',
    '#### Queries',
    '',
    `${fmt(r.measured.length)} queries (after ${opts.warmup} unmeasured warm-up queries), one at a time: a random person with pings, a random ${opts['window-days']}-day window inside the year (\`start_date\` … \`end_date\`, both included), \`distance=${opts.distance}\`. ` +
      `Results: mean ${fmt(mean(rowsOf), 1)} connections per query (p50 ${fmt(p(rowsOf, 50))}, p95 ${fmt(p(rowsOf, 95))}, max ${fmt(Math.max(...rowsOf))}), mean response ${fmt(mean(r.rest.map((x) => x.bytes)) / 1024, 1)} KiB.` +
      (r.countMismatch
        ? ` **${r.countMismatch} queries returned a different number of rows through REST than through findConnections.**`
        : ' REST and findConnections returned the same number of rows for every query.'),
    '',
    '| latency (ms) | queries | p50 | p95 | p99 | max | mean | total |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    latencyRow('**REST** `GET /api/persons/{id}/connection` (node:http, kept-alive connection, body read)', restMs),
    latencyRow('SQL alone: `findConnections` in the benchmark process (same SQL, same session settings)', sqlMs),
    latencyRow('REST − SQL alone, per query (HTTP, gRPC, JSON, both services)', overhead),
    ...(n > 0 ? oldLines() : ['', 'The old algorithm was not run (`--old-budget 0`).', '']),
    '#### Targets',
    '',
    `- **p95 ≤ ${target} ms through REST at ${opts.pings >= 10_000_000 ? '10M' : '1M'} pings**${opts.pings !== 1_000_000 && opts.pings !== 10_000_000 ? ` (this run: ${fmt(opts.pings)} pings)` : ''}: **${latencyMet ? 'met' : 'not met'}** (p95 ${ms1(p95)} ms).`,
    `- **p95 ≤ ${scaleTarget} ms through REST at ${opts.pings >= 100_000_000 ? '100M' : opts.pings >= 10_000_000 ? '10M' : '1M'} pings** (scale target, docs/contract.md §7): **${p95 <= scaleTarget ? 'met' : 'not met'}** (p95 ${ms1(p95)} ms).`,
    n > 0
      ? `- **≥ ${SPEEDUP_TARGET}× faster than the old algorithm on the same queries**: **${speedMet ? 'met' : 'not met'}** (p50 ${times(ratioP50)}, total ${times(ratioTotal)}, REST against the old SQL without HTTP).`
      : `- ≥ ${SPEEDUP_TARGET}× faster than the old algorithm: not measured in this run (\`--old-budget 0\`).`,
    '',
    '#### Where the time goes',
    '',
    `- SQL alone (findConnections: the query on a connection with the service's session settings — \`jit = off\`, \`random_page_cost = 1.1\`, \`plan_cache_mode = force_generic_plan\` — as the same named prepared statement, rows parsed by node-postgres) p50 ${ms1(p(sqlMs, 50))} ms / p95 ${ms1(p(sqlMs, 95))} ms; ` +
      `REST adds p50 ${ms1(p(overhead, 50))} ms / p95 ${ms1(p(overhead, 95))} ms per query (express, the person look-up, gRPC, protobuf, JSON), so SQL is ${fmt((100 * sum(sqlMs)) / sum(restMs))} % of the REST time in total.`,
    `- The plan below: PostgreSQL's own execution time for the typical query was ${execTime ?? '?'} ms under EXPLAIN ANALYZE, whose per-node timing inflates it; "SQL alone" also includes the round trip, sending the rows and decoding them.`,
    `- Latency follows the result size: the ${fmt(Math.ceil(r.rest.length / 10))} queries with most connections (mean ${fmt(mean(topBy(r.rest, (x) => x.rows, 0.1).map((x) => x.rows)))} rows) took mean ${ms1(mean(topBy(r.rest, (x) => x.rows, 0.1).map((x) => x.ms)))} ms through REST, the others ${ms1(mean(bottomBy(r.rest, (x) => x.rows, 0.9).map((x) => x.ms)))} ms.`,
    '',
    '#### Query plan',
    '',
    `The typical query (the REST median, ${ms1(r.rest[typicalIdx]!.ms)} ms): person ${r.typical.personId}, ${r.typical.startDate} … ${r.typical.endDate}, ${opts.distance} m, ${fmt(r.rest[typicalIdx]!.rows)} connections. ` +
      "`EXPLAIN (ANALYZE, BUFFERS)` of exactly the SQL connection-service runs (`buildConnectionQuery`), with the service's session settings (`jit = off`, `random_page_cost = 1.1`, `plan_cache_mode = force_generic_plan`), prepared and then executed, so the plan is the generic one the service's prepared statement runs:",
    '',
    '```',
    r.plan,
    '```',
    ...(n > 0
      ? ['', 'The old algorithm, one of its per-ping queries for the same person and range (it runs one such query per own ping):', '', '```', r.oldPlan, '```']
      : []),
    '',
    `Machine: ${r.machine.nproc} × ${r.machine.cpu}, Node ${r.machine.node}, load average before the run ${r.loadBefore}; PostgreSQL and both services on the same machine.`,
    '',
    '```',
    `$ nproc\n${r.machine.nproc}\n$ free -g\n${r.machine.memory}`,
    '```',
  ];
  return lines.join('\n');
}

/**
 * One run's sub-heading: runs of other sizes, or with pings spread differently over the venue
 * (--booth-share other than the default), stay in the section beside it.
 */
const runHeading = (opts: Options) =>
  `### ${fmt(opts.pings)} pings${opts['booth-share'] === DEFAULT_BOOTH_SHARE ? '' : `, --booth-share ${opts['booth-share']}`}${opts.layout === 'days' ? '' : `, --layout ${opts.layout}`}`;

/** The section's runs (by "### N pings"), ours replacing the one of the same size, ordered by size. */
function mergeRuns(section: string | undefined, heading: string, report: string): string {
  const runs = new Map<string, string>();
  for (const block of (section ?? '').split(/^(?=### )/m)) {
    const first = block.split('\n', 1)[0]!.trim();
    if (/^### [\d,]+ pings(, --booth-share [\d.]+)?(, --layout \w+)?$/.test(first)) runs.set(first, block.trim());
  }
  runs.set(heading, `${heading}\n\n${report.trim()}`);
  const size = (h: string) => Number(/[\d,]+/.exec(h)![0].replace(/,/g, ''));
  const intro =
    'Written by `npm run bench:connections` (`test/bench/connections-bench.ts`); one sub-section per dataset size (`--pings`, and `--booth-share` and `--layout` when not the default), each rewritten by its own run.';
  return [intro, ...[...runs.keys()].sort((a, b) => size(a) - size(b) || a.localeCompare(b)).map((h) => runs.get(h)!)].join('\n\n');
}

/** The top `share` of items by `key` (at least one). */
function topBy<T>(items: T[], key: (t: T) => number, share: number): T[] {
  const k = Math.max(1, Math.ceil(items.length * share));
  return [...items].sort((a, b) => key(b) - key(a)).slice(0, k);
}

/** The bottom `share` of items by `key`. */
function bottomBy<T>(items: T[], key: (t: T) => number, share: number): T[] {
  const k = Math.max(1, Math.floor(items.length * share));
  return [...items].sort((a, b) => key(a) - key(b)).slice(0, k);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
