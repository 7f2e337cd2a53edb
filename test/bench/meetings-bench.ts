/**
 * `npm run bench:meetings [-- --attendees 500 --hours 1 --rate 5000 --interval 10 --noise 1 --seed 7 --phones 4]`
 *
 * How right and how fast the presence and live-meeting answers are. A simulated event (meetings-scenario.ts:
 * attendees wander between 24 booths and a lounge and sit in talks in 4 rooms, each phone pinging
 * every `--interval` seconds with Gaussian GPS noise of `--noise` meters) is played through the real
 * system — gRPC location-ingest → Kafka → location-writer (pings, then visits and attendance) and
 * connection-service (live meetings) — each service a process of its own, against a database and a
 * topic created for this run. The event's time runs faster than the clock so that its pings arrive
 * at `--rate` pings/s; every attendee's `Meetings/Watch` stream is open meanwhile, the streams spread
 * over `--phones` processes (phones are devices of their own: one event loop receiving every
 * attendee's notifications would measure itself).
 *
 * Reported, in docs/benchmarks.md under "## Meetings and presence accuracy":
 * - live meetings (the pairs of persons told they met) against the exact query (connection-service's
 *   FindConnections: ST_DWithin 5 m, ±1 minute, for every attendee) and against the truth (the
 *   attendees' true positions at their pings, without noise): precision and recall;
 * - notification delay: from the acknowledgement of the ping that completed a meeting (the end of
 *   its RecordBatch call: the target's "within 2 s of the second ping being acknowledged", docs/contract.md §7) to the
 *   notification's arrival at the watcher, p50, p99, max; and from the moment that ping was written
 *   to the stream (an upper bound, which adds ingest's time to acknowledge);
 * - visits and attendance stored against the truth (the attendees' real stays): precision, recall.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { z } from 'zod';
import * as grpc from '@grpc/grpc-js';
import { bearerInterceptor } from '@udaconnect/common';
import { DEFAULT_PRESENCE_RULES, type GeoPolygon } from '@udaconnect/domain';
import { ConnectionServiceClient, GroupBy, LocationIngestClient, type LocationPing } from '@udaconnect/proto';
import type { Told, WatchOrder } from './meetings-watcher';
import { migrateLatest } from '../../db';
import { eventRepository } from '../../modules/person-api/src/event-repository';
import { venueImportSchema } from '../../modules/person-api/src/event-schemas';
import { healthStatus } from '../support/grpc-probes';
import { createScenario, type Scenario } from './meetings-scenario';
import {
  benchAuth,
  benchCleanups,
  countRows,
  cpuPercent,
  findPids,
  histogramQuantile,
  readCpu,
  readMetrics,
  type CpuGroups,
  createBenchDatabase,
  fmt,
  freePort,
  insertPersons,
  logTail,
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
const HEADING = '## Meetings and presence accuracy';
const TARGET_MEETINGS = 0.99;
const TARGET_P99_MS = 2_000;
/**
 * The player sends the pings due every BATCH_EVERY_MS, in RecordBatch calls of at most BATCH_PINGS
 * (250 pings a call at 5,000 pings/s). The delays are measured from the send, so the wait for the
 * next send is not in them.
 */
const BATCH_PINGS = 500;
const BATCH_EVERY_MS = 50;
/** The live rule's defaults (connection-service MEETING_*): 5 m, 60 s. */
const DISTANCE_METERS = 5;
const WINDOW_SECONDS = 60;

const num = (fallback: number) => z.coerce.number().positive().default(fallback);
const optionsSchema = z.object({
  attendees: z.coerce.number().int().min(2).max(20_000).default(500),
  hours: num(1),
  rate: num(5_000),
  interval: num(10),
  noise: z.coerce.number().min(0).default(1),
  seed: z.coerce.number().int().default(7),
  streams: z.coerce.number().int().min(1).max(64).default(4),
  phones: z.coerce.number().int().min(1).max(16).default(4),
  partitions: z.coerce.number().int().min(1).default(6),
  'drain-timeout': num(300),
  /**
   * connection-service's nice value (the other processes run at 0): -10 gives it the priority a
   * CPU request gives it on K3s (overlays/production), where it does not share two cores with the
   * load generator and every other component on equal terms.
   */
  'connection-service-nice': z.coerce.number().int().min(-20).max(19).default(0),
});
type Options = z.infer<typeof optionsSchema>;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(Object.keys(optionsSchema.shape).map((k) => [k, { type: 'string' }])) });
  return optionsSchema.parse(values);
}

const pairKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** Precision and recall of `found` against `truth`. */
function score(found: Set<string>, truth: Set<string>) {
  let both = 0;
  for (const k of found) if (truth.has(k)) both++;
  return { found: found.size, truth: truth.size, both, precision: found.size ? both / found.size : 1, recall: truth.size ? both / truth.size : 1 };
}
type Score = ReturnType<typeof score>;

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const command = `npm run bench:meetings${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const machine = machineDescription();
  const durationSeconds = opts.hours * 3600;
  const scenario = createScenario({
    attendees: opts.attendees,
    durationSeconds,
    pingIntervalSeconds: opts.interval,
    noiseMeters: opts.noise,
    seed: opts.seed,
  });
  // Event seconds per wall second, so that the pings arrive at --rate.
  const speed = (opts.rate * opts.interval) / opts.attendees;
  console.log(
    `[bench] scenario: ${opts.attendees} attendees, ${scenario.places.length} places, ${scenario.sessions.length} talks, ${fmt(scenario.pings.length)} pings ` +
      `over ${opts.hours} h of event time, played ${fmt(speed, 1)}× faster than the clock (${fmt(opts.rate)} pings/s, ${fmt(durationSeconds / speed)} s)`,
  );

  console.log('[bench] provisioning (scripts/provision.sh)');
  provision(ROOT);
  const infra = readInfraEnv(join(ROOT, '.udaconnect', 'env'));
  const auth = await benchAuth(infra);
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dbName = `udaconnect_bench_${stamp}`;
  const topic = `bench.${stamp}.locations`;
  const benchUrl = withDatabase(infra.DATABASE_URL, dbName);
  const logDir = join(ROOT, '.udaconnect', 'bench', stamp);
  mkdirSync(logDir, { recursive: true });
  const { cleanups, cleanUp } = benchCleanups();

  let bench: Knex | undefined;
  try {
    await createBenchDatabase(infra.DATABASE_URL, dbName, cleanups);
    bench = knexFactory({ client: 'pg', connection: benchUrl, pool: { min: 0, max: 4 } });
    await migrateLatest(bench);
    const personIds = await insertPersons(bench, opts.attendees);

    // The event: it ended a moment ago in event time, so no ping is from the future when sent.
    const wallStart = Date.now() + 20_000;
    const eventStart = wallStart - durationSeconds * 1000 - 60_000;
    const at = (seconds: number) => new Date(eventStart + seconds * 1000);
    const { eventId, placeIds, sessionIds } = await createEvent(bench, scenario, at, durationSeconds);
    console.log(`[bench] database ${dbName}: ${personIds.length} persons, event ${eventId}; topic ${topic}`);

    // ---- services
    const [ingestPort, writerPort, connectionPort, connectionMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const common = {
      DATABASE_URL: benchUrl,
      KAFKA_BROKERS: infra.KAFKA_BROKERS,
      LOCATIONS_TOPIC: topic,
      LOCATIONS_PARTITIONS: String(opts.partitions),
      LOG_LEVEL: 'info',
    };
    const services: Service[] = [];
    const start = (name: string, entry: string, env: Record<string, string>, nice = 0) => {
      const s = startService(name, entry, { ...common, ...env }, ROOT, join(logDir, `${name}.log`), { nice });
      cleanups.push({ name, run: () => stopService(s) });
      services.push(s);
      return s;
    };
    start('location-ingest', 'modules/location-ingest/src/main.ts', { ...auth.env, PORT: String(ingestPort), METRICS_PORT: '0' });
    start('location-writer', 'modules/location-writer/src/main.ts', {
      PORT: String(writerPort),
      KAFKA_GROUP_ID: `bench.${stamp}.location-writer`,
      LOCATIONS_DLQ_TOPIC: `${topic}.dlq`,
      RETENTION_DAYS: '0',
    });
    start(
      'connection-service',
      'modules/connection-service/src/main.ts',
      {
        ...auth.env,
        PORT: String(connectionPort),
        METRICS_PORT: String(connectionMetricsPort),
        // The reference queries cover a whole event for one person: no cost guard in the way.
        MAX_QUERY_PAIRS: '1000000000',
        // The event's time runs `speed` times faster than the clock: the same lateness allowed in wall time as in production (60 s).
        MEETING_LATE_SECONDS: String(Math.ceil(60 * speed)),
        STATEMENT_TIMEOUT_MS: '120000',
      },
      opts['connection-service-nice'],
    );
    await waitUntil('location-ingest to serve', async () => (await healthStatus(ingestPort)) === 'SERVING', services, 90_000);
    await waitUntil('location-writer /readyz', async () => (await fetch(`http://127.0.0.1:${writerPort}/readyz`)).ok, services, 90_000);
    await waitUntil('connection-service to serve', async () => (await healthStatus(connectionPort)) === 'SERVING', services, 90_000);
    // SERVING covers FindConnections; Watch answers UNAVAILABLE until the live feed has read the topic.
    await waitUntil(
      'connection-service live meetings',
      async () => /^udaconnect_meetings_live(\{[^}]*\})? 1$/m.test(await (await fetch(`http://127.0.0.1:${connectionMetricsPort}/metrics`)).text()),
      services,
      90_000,
    );

    // ---- every attendee watches their meetings (the phones, in processes of their own: meetings-watcher.ts)
    const phones = Array.from({ length: Math.min(opts.phones, personIds.length) }, (_, i) => {
      const order: WatchOrder = { target: `127.0.0.1:${connectionPort}`, token: auth.token, personIds: personIds.filter((_id, j) => j % opts.phones === i) };
      const child = fork(join(__dirname, 'meetings-watcher.ts'), [JSON.stringify(order)], { execArgv: ['--import', 'tsx'] });
      cleanups.push({ name: `watch streams ${i + 1}`, run: async () => void child.kill() });
      return child;
    });
    const fromPhones = <T>(key: string) =>
      Promise.all(
        phones.map(
          (phone) =>
            new Promise<T>((resolve, reject) => {
              const onMessage = (msg: Record<string, unknown>) => {
                if (!(key in msg)) return;
                phone.off('message', onMessage);
                resolve(msg[key] as T);
              };
              phone.on('message', onMessage);
              phone.once('exit', (code) => reject(new Error(`meetings-watcher exited (${code}) before "${key}"`)));
            }),
        ),
      );
    await fromPhones<boolean>('ready');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wallStart - Date.now())));

    // ---- play the event
    const cpuGroups: CpuGroups = Object.fromEntries(services.map((x) => [x.name, () => [x.child.pid!]]));
    cpuGroups.kafka = () => findPids((cmd) => cmd.includes('kafka.Kafka'));
    cpuGroups.postgres = () => findPids((_cmd, comm) => comm === 'postgres');
    cpuGroups.phones = () => phones.map((x) => x.pid!);
    const cpuBefore = readCpu(cpuGroups);
    const { sentAt, ackedAt } = await play(scenario, {
      target: `127.0.0.1:${ingestPort}`,
      token: auth.token,
      personIds,
      at,
      speed,
      streams: opts.streams,
      services,
    });
    const sendEnd = Date.now();

    // ---- drain: every ping a row, every presence mark processed, the last notifications in
    const deadline = Date.now() + opts['drain-timeout'] * 1000;
    for (;;) {
      const rows = await countRows(bench);
      const queued = Number((await bench.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM presence_dirty')).rows[0]!.n);
      if (rows >= scenario.pings.length && queued === 0) break;
      const dead = services.find((s) => s.exited);
      if (dead) throw new Error(`${dead.name} exited:\n${logTail(dead.logFile)}`);
      if (Date.now() > deadline) throw new Error(`drain timed out: ${rows} of ${scenario.pings.length} rows, ${queued} presence marks queued`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const drainedS = (Date.now() - sendEnd) / 1000;
    const cpu = cpuPercent(cpuBefore, readCpu(cpuGroups));
    // connection-service may still be working through its backlog: until its counts of meetings and of notifications sent stop moving (3 s).
    const metricsUrl = `http://127.0.0.1:${connectionMetricsPort}/metrics`;
    let meetingMetrics = new Map<string, number>();
    const metric = (name: string) => [...meetingMetrics].filter(([k]) => k.startsWith(name)).reduce((n, [, v]) => n + v, 0);
    for (let last = -1, quietSince = Date.now(); Date.now() - quietSince < 3_000;) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      meetingMetrics = await readMetrics(metricsUrl).catch(() => meetingMetrics);
      const progress = metric('udaconnect_meetings_detected_total') + metric('udaconnect_meeting_notifications_sent_total');
      if (progress !== last) [last, quietSince] = [progress, Date.now()];
    }
    const settledS = (Date.now() - sendEnd) / 1000;
    const service = {
      detected: metric('udaconnect_meetings_detected_total'),
      sent: metric('udaconnect_meeting_notifications_sent_total'),
      dropped: metric('udaconnect_meeting_notifications_dropped_total'),
      skipped: metric('udaconnect_meeting_pings_skipped_total'),
      delayP50: histogramQuantile('udaconnect_meeting_notification_delay_seconds', new Map(), meetingMetrics, 0.5),
      delayP99: histogramQuantile('udaconnect_meeting_notification_delay_seconds', new Map(), meetingMetrics, 0.99),
      detectionP50: histogramQuantile('udaconnect_meeting_detection_delay_seconds', new Map(), meetingMetrics, 0.5),
      detectionP99: histogramQuantile('udaconnect_meeting_detection_delay_seconds', new Map(), meetingMetrics, 0.99),
      cpu,
      settledS,
    };
    console.log(`[bench] connection-service: ${JSON.stringify(service)}`);
    console.log(`[bench] drained ${drainedS.toFixed(1)} s after the last ping was sent`);

    // ---- live meetings against the exact query and the truth
    for (const phone of phones) phone.send({ finish: true });
    const told = (await fromPhones<Told[]>('told')).flat().map(([person, other, atMs, receivedAt]) => ({ person, other, atMs, receivedAt }));
    const indexOf = new Map(personIds.map((id, i) => [id, i]));
    const live = new Set(told.map((t) => pairKey(t.person, t.other)));
    const exact = await exactPairs(`127.0.0.1:${connectionPort}`, auth.token, personIds, at(-600), at(durationSeconds + 600));
    const truth = new Set([...truePairs(scenario)].map(([a, b]) => pairKey(personIds[a]!, personIds[b]!)));
    const since = (from: Map<number, number>) => told.map((t) => t.receivedAt - (from.get(t.atMs) ?? Number.NaN)).filter((d) => Number.isFinite(d));
    const delays = since(ackedAt);
    const writtenDelays = since(sentAt);
    const ackDelays = [...ackedAt].map(([t, acked]) => acked - sentAt.get(t)!);
    const unmatched = told.length - delays.length;

    // ---- presence against the truth
    const visits = await visitScores(bench, scenario, placeIds, indexOf, at, eventId);
    const attendance = await attendanceScores(bench, scenario, sessionIds, indexOf, eventId);

    writeFileSync(
      join(logDir, 'results.json'),
      JSON.stringify({
        live: [...live],
        exact: [...exact],
        truth: [...truth],
        delays,
        writtenDelays,
        ackDelays,
        visits,
        attendance,
        notifications: told.length,
        service,
      }),
    );
    console.log(`[bench] raw results in ${join(logDir, 'results.json')}`);
    const report = renderReport({
      command,
      machine,
      date: new Date(),
      opts,
      scenario,
      speed,
      drainedS,
      liveVsExact: score(live, exact),
      liveVsTruth: score(live, truth),
      exactVsTruth: score(exact, truth),
      notifications: told.length,
      delays,
      writtenDelays,
      ackDelays,
      unmatched,
      visits,
      attendance,
      service,
    });
    console.log(`\n${report}`);
    writeDocSection(DOC, HEADING, report);
    console.log(`[bench] written to ${DOC}`);
  } finally {
    await bench?.destroy();
    await cleanUp();
  }
}

/** The scenario's event, its places (squares) and talks, stored as POST /api/events and /venue would. */
async function createEvent(knex: Knex, s: Scenario, at: (seconds: number) => Date, durationSeconds: number) {
  const events = eventRepository(knex);
  const event = await events.createEvent({ name: 'Accuracy benchmark', starts_at: at(-600).toISOString(), ends_at: at(durationSeconds + 600).toISOString() });
  const square = (p: Scenario['places'][number]): GeoPolygon => ({
    type: 'Polygon',
    coordinates: [
      [
        [-1, -1],
        [1, -1],
        [1, 1],
        [-1, 1],
        [-1, -1],
      ].map(([dx, dy]) => {
        const ll = s.toLatLon(p.x + dx! * p.half, p.y + dy! * p.half);
        return [ll.longitude, ll.latitude];
      }),
    ],
  });
  const venue = await events.importVenue(
    event.id,
    venueImportSchema.parse({
      places: s.places.map((p) => ({ name: p.name, kind: p.kind, area: square(p) })),
      sessions: s.sessions.map((x) => ({
        title: x.title,
        place: s.places[x.place]!.name,
        starts_at: at(x.from).toISOString(),
        ends_at: at(x.to).toISOString(),
      })),
    }),
  );
  return { eventId: event.id, placeIds: venue.places.map((p) => p.id), sessionIds: venue.sessions.map((x) => x.id) };
}

interface PlayOptions {
  target: string;
  token: string;
  personIds: number[];
  at(seconds: number): Date;
  speed: number;
  streams: number;
  services: Service[];
}

/**
 * Sends the scenario's pings in event-time order, paced to `speed`, as RecordBatch calls of the
 * pings due every BATCH_EVERY_MS (at most BATCH_PINGS each, `streams` calls in flight at most).
 * Returns, for each ping time (ms), when its batch was sent and when that call was acknowledged.
 */
async function play(s: Scenario, o: PlayOptions): Promise<{ sentAt: Map<number, number>; ackedAt: Map<number, number> }> {
  const client = new LocationIngestClient(o.target, grpc.credentials.createInsecure(), { interceptors: [bearerInterceptor(() => o.token)] });
  const sentAt = new Map<number, number>();
  const ackedAt = new Map<number, number>();
  const inFlight = new Set<Promise<void>>();
  let accepted = 0;
  let failure: Error | undefined;
  const send = (pings: LocationPing[]) => {
    const now = Date.now();
    for (const p of pings) sentAt.set(p.recordedAt!.getTime(), now);
    const call = new Promise<void>((resolve) =>
      client.recordBatch({ pings }, (err, summary) => {
        const acked = Date.now();
        for (const p of pings) ackedAt.set(p.recordedAt!.getTime(), acked);
        if (err) failure ??= err;
        else if (summary.accepted !== pings.length) failure ??= new Error(`ingest accepted ${summary.accepted} of ${pings.length}: ${JSON.stringify(summary)}`);
        else accepted += pings.length;
        resolve();
      }),
    ).finally(() => inFlight.delete(call));
    inFlight.add(call);
  };
  const wallStart = Date.now();
  let next = 0;
  let lastReport = wallStart;
  const pings = s.pings;
  while (next < pings.length) {
    const eventNow = ((Date.now() - wallStart) / 1000) * o.speed;
    const due: LocationPing[] = [];
    while (next < pings.length && pings[next]!.t <= eventNow && due.length < BATCH_PINGS) {
      const p = pings[next++]!;
      const ll = s.toLatLon(p.nx, p.ny);
      due.push({ personId: o.personIds[p.attendee]!, latitude: ll.latitude, longitude: ll.longitude, recordedAt: o.at(p.t), eventId: randomUUID() });
    }
    if (due.length > 0) {
      while (inFlight.size >= o.streams) await Promise.race(inFlight);
      send(due);
    }
    if (failure) throw failure;
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      const dead = o.services.find((x) => x.exited);
      console.log(
        `[bench] ${((lastReport - wallStart) / 1000).toFixed(0).padStart(3)} s  sent ${fmt(next)} of ${fmt(pings.length)}${dead ? `  !! ${dead.name} exited` : ''}`,
      );
      if (dead) throw new Error(`${dead.name} exited:\n${logTail(dead.logFile)}`);
    }
    if (due.length < BATCH_PINGS) await new Promise((resolve) => setTimeout(resolve, BATCH_EVERY_MS));
  }
  await Promise.all(inFlight);
  client.close();
  if (failure) throw failure;
  if (accepted !== pings.length) throw new Error(`ingest accepted ${accepted} of ${pings.length} pings`);
  console.log(`[bench] sent and acknowledged ${fmt(accepted)} pings in ${((Date.now() - wallStart) / 1000).toFixed(1)} s`);
  return { sentAt, ackedAt };
}

/** The pairs FindConnections (ST_DWithin 5 m, ±1 minute) finds for every attendee over the event. */
async function exactPairs(target: string, token: string, personIds: number[], start: Date, end: Date): Promise<Set<string>> {
  const client = new ConnectionServiceClient(target, grpc.credentials.createInsecure(), { interceptors: [bearerInterceptor(() => token)] });
  const pairs = new Set<string>();
  const began = Date.now();
  let next = 0;
  // Two at a time: a caller's limit of concurrent queries.
  const worker = async () => {
    while (next < personIds.length) {
      const personId = personIds[next++]!;
      const response = await new Promise<{ people: Array<{ person?: { id: number } }> }>((resolve, reject) =>
        client.findConnections(
          {
            personId,
            start,
            end,
            distanceMeters: DISTANCE_METERS,
            timeWindowMinutes: WINDOW_SECONDS / 60,
            groupBy: GroupBy.GROUP_BY_PERSON,
            withClosest: false,
            pageSize: 0,
            pageToken: '',
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
      for (const p of response.people) pairs.add(pairKey(personId, p.person!.id));
      if (next % 100 === 0) console.log(`[bench] exact query: ${next} of ${personIds.length} attendees, ${((Date.now() - began) / 1000).toFixed(0)} s`);
    }
  };
  await Promise.all([worker(), worker()]);
  client.close();
  console.log(`[bench] exact query for ${personIds.length} attendees in ${((Date.now() - began) / 1000).toFixed(1)} s: ${fmt(pairs.size)} pairs`);
  return pairs;
}

/** Pairs of attendees (indexes) whose true positions at two pings were within 5 m and 60 s: a sweep over 5 m cells. */
function truePairs(s: Scenario): Set<[number, number]> {
  const cells = new Map<string, Array<{ a: number; t: number; x: number; y: number }>>();
  const seen = new Set<string>();
  const out = new Set<[number, number]>();
  const cell = (v: number) => Math.floor(v / DISTANCE_METERS);
  for (const p of s.pings) {
    const cx = cell(p.x);
    const cy = cell(p.y);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        const list = cells.get(`${cx + dx}:${cy + dy}`);
        if (!list) continue;
        // Drop what is too old for any later ping (pings come in time order).
        while (list.length && list[0]!.t < p.t - WINDOW_SECONDS) list.shift();
        for (const q of list) {
          if (q.a === p.attendee || Math.hypot(q.x - p.x, q.y - p.y) > DISTANCE_METERS) continue;
          const key = pairKey(q.a, p.attendee);
          if (seen.has(key)) continue;
          seen.add(key);
          out.add(q.a < p.attendee ? [q.a, p.attendee] : [p.attendee, q.a]);
        }
      }
    }
    const key = `${cx}:${cy}`;
    const list = cells.get(key);
    if (list) list.push({ a: p.attendee, t: p.t, x: p.x, y: p.y });
    else cells.set(key, [{ a: p.attendee, t: p.t, x: p.x, y: p.y }]);
  }
  return out;
}

/**
 * Visits stored against the true stays: a stored visit is right when the person truly stayed in
 * that place at least 2 minutes at an overlapping time; a true stay of 2 minutes or more is found
 * when a stored visit overlaps it.
 */
async function visitScores(knex: Knex, s: Scenario, placeIds: number[], indexOf: Map<number, number>, at: (t: number) => Date, eventId: number) {
  const { rows } = await knex.raw<{ rows: Array<{ person_id: number; place_id: number; first_seen: Date; last_seen: Date }> }>(
    'SELECT person_id, place_id, first_seen, last_seen FROM visit WHERE event_id = ?',
    [eventId],
  );
  const placeIndex = new Map(placeIds.map((id, i) => [id, i]));
  const minSeconds = DEFAULT_PRESENCE_RULES.minVisitMs / 1000;
  const trueStays = s.stays.flatMap((list, a) => list.filter((x) => x.to - x.from >= minSeconds).map((x) => ({ a, ...x })));
  const overlaps = (a: number, place: number, from: Date, to: Date) =>
    s.stays[a]!.some((x) => x.place === place && x.to - x.from >= minSeconds && at(x.from) <= to && at(x.to) >= from);
  let right = 0;
  for (const r of rows) if (overlaps(indexOf.get(r.person_id)!, placeIndex.get(r.place_id)!, r.first_seen, r.last_seen)) right++;
  const byPersonPlace = new Map<string, Array<{ from: number; to: number }>>();
  for (const r of rows) {
    const k = `${indexOf.get(r.person_id)}:${placeIndex.get(r.place_id)}`;
    const list = byPersonPlace.get(k) ?? [];
    list.push({ from: r.first_seen.getTime(), to: r.last_seen.getTime() });
    byPersonPlace.set(k, list);
  }
  let found = 0;
  for (const x of trueStays)
    if ((byPersonPlace.get(`${x.a}:${x.place}`) ?? []).some((v) => v.from <= at(x.to).getTime() && v.to >= at(x.from).getTime())) found++;
  return {
    found: rows.length,
    truth: trueStays.length,
    both: right,
    precision: rows.length ? right / rows.length : 1,
    recall: trueStays.length ? found / trueStays.length : 1,
  };
}

/** Attendance stored against the truth: inside the talk's room for at least half of the talk, by the true stays. */
async function attendanceScores(knex: Knex, s: Scenario, sessionIds: number[], indexOf: Map<number, number>, eventId: number) {
  const { rows } = await knex.raw<{ rows: Array<{ person_id: number; session_id: number }> }>(
    'SELECT person_id, session_id FROM attendance WHERE event_id = ?',
    [eventId],
  );
  const stored = new Set(rows.map((r) => `${indexOf.get(r.person_id)}:${sessionIds.indexOf(r.session_id)}`));
  const truth = new Set<string>();
  s.sessions.forEach((session, k) => {
    s.stays.forEach((list, a) => {
      let inside = 0;
      for (const x of list) if (x.place === session.place) inside += Math.max(0, Math.min(x.to, session.to) - Math.max(x.from, session.from));
      if (inside >= (session.to - session.from) / 2) truth.add(`${a}:${k}`);
    });
  });
  return score(stored, truth);
}

/** Total memory in GiB from `free -g` (its Mem: line). */
const gib = (free: string) => /^Mem:\s+(\d+)/m.exec(free)?.[1] ?? '?';

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

function renderReport(r: {
  command: string;
  machine: ReturnType<typeof machineDescription>;
  date: Date;
  opts: Options;
  scenario: Scenario;
  speed: number;
  drainedS: number;
  liveVsExact: Score;
  liveVsTruth: Score;
  exactVsTruth: Score;
  notifications: number;
  /** Notification delays from the completing ping's acknowledgement (the target's measure), from its write, and acknowledgement delays, ms. */
  delays: number[];
  writtenDelays: number[];
  ackDelays: number[];
  unmatched: number;
  visits: Score;
  attendance: Score;
  service: {
    detected: number;
    sent: number;
    dropped: number;
    skipped: number;
    delayP50: string;
    delayP99: string;
    detectionP50: string;
    detectionP99: string;
    cpu: Record<string, number>;
    settledS: number;
  };
}): string {
  const ok = (pass: boolean) => (pass ? 'met' : '**not met**');
  const p99 = percentile(r.delays, 99);
  const meetingsPass = r.liveVsExact.precision >= TARGET_MEETINGS && r.liveVsExact.recall >= TARGET_MEETINGS;
  const row = (name: string, s: Score, target = '') =>
    `| ${name} | ${fmt(s.found)} | ${fmt(s.truth)} | ${fmt(s.both)} | ${pct(s.precision)} | ${pct(s.recall)} | ${target} |`;
  return [
    `Measured ${r.date.toISOString().slice(0, 10)} with \`${r.command}\` on ${r.machine.nproc} × ${r.machine.cpu}, ${gib(r.machine.memory)} GiB of memory, Node ${r.machine.node}; load average before: ${r.machine.load}.`,
    '',
    `Scenario: ${fmt(r.opts.attendees)} attendees, ${r.scenario.places.length} places (24 booths of 5 m, 4 talk rooms of 20 m, a lounge), ${r.scenario.sessions.length} talks of 45 min, ` +
      `${r.opts.hours} h of event time, one ping per ${r.opts.interval} s per phone with ${r.opts.noise} m GPS noise (σ per axis), seed ${r.opts.seed}: ` +
      `${fmt(r.scenario.pings.length)} pings played ${fmt(r.speed, 1)}× faster than the clock, at ${fmt(r.opts.rate)} pings/s, through gRPC ingest → Kafka → writer and connection-service. ` +
      `Everything written and every presence mark processed ${r.drainedS.toFixed(1)} s after the last ping was sent.`,
    '',
    '| Answer | Found | Reference | Both | Precision | Recall | Target |',
    '|---|---:|---:|---:|---:|---:|---|',
    row('Live meetings (pairs told) vs exact query (FindConnections, ST_DWithin 5 m, ±1 min)', r.liveVsExact, `≥ 99 % both: ${ok(meetingsPass)}`),
    row('Live meetings vs truth (true positions at the pings)', r.liveVsTruth),
    row('Exact query vs truth', r.exactVsTruth),
    row('Visits (≥ 2 min) vs true stays', r.visits),
    row('Attendance (≥ half the talk) vs true time in the room', r.attendance),
    '',
    `Live notifications: ${fmt(r.notifications)} (each meeting tells both persons). Delay from the acknowledgement of the completing ping (its RecordBatch call answered) to the notification at the watcher: ` +
      `p50 ${fmt(percentile(r.delays, 50))} ms, p99 ${fmt(p99)} ms, max ${fmt(max(r.delays))} ms — target p99 ≤ ${fmt(TARGET_P99_MS)} ms: ${ok(p99 <= TARGET_P99_MS)}` +
      `${r.unmatched ? ` (${r.unmatched} notifications whose ping time matched no sent ping were left out)` : ''}. ` +
      `From the completing ping written to its stream instead (an upper bound, which adds ingest's time to acknowledge): p50 ${fmt(percentile(r.writtenDelays, 50))} ms, ` +
      `p99 ${fmt(percentile(r.writtenDelays, 99))} ms, max ${fmt(max(r.writtenDelays))} ms; the acknowledgements themselves, RecordBatch call written → answered, per ping: ` +
      `p50 ${fmt(percentile(r.ackDelays, 50))} ms, p99 ${fmt(percentile(r.ackDelays, 99))} ms.`,
    '',
    `connection-service${r.opts['connection-service-nice'] ? ` (at nice ${r.opts['connection-service-nice']}, every other process at 0)` : ''}: done ${r.service.settledS.toFixed(1)} s after the last ping was sent; ${fmt(r.service.detected)} meetings detected, ${fmt(r.service.sent)} notifications sent, ${fmt(r.service.dropped)} dropped (slow streams), ` +
      `${fmt(r.service.skipped)} pings skipped; its delays from the Kafka timestamp to the meeting found: p50 ${r.service.detectionP50}, p99 ${r.service.detectionP99}; ` +
      `to the message written to the stream (after any wait for a slow stream to drain): p50 ${r.service.delayP50}, p99 ${r.service.delayP99}. ` +
      `CPU while playing and draining (% of one core): ${Object.entries(r.service.cpu)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}.`,
    '',
    'The truth differs from what the phones report by the GPS noise: pairs whose true distance is near 5 m fall on either side once noise is added, ' +
      'and a ping inside a booth may be reported outside it; the exact query sees only the reported positions, like the live index.',
  ].join('\n');
}

function max(values: readonly number[]): number {
  return values.reduce((m, d) => Math.max(m, d), -Infinity);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
