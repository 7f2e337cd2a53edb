/**
 * The device simulator against the real location-ingest (in-process, port 0), the real Kafka
 * broker and person-api (in-process) on a private copy of the seeded test database.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { closeHttpServer, createKafkaBus, createLogger, listen, type KafkaBus } from '@udaconnect/common';
import { decodePing, haversineMeters as distanceMeters, type LocationPing } from '@udaconnect/domain';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { ensurePersons, PersonApiUnreachableError } from '../../scripts/simulator/persons';
import { IngestUnreachableError, runSimulation, SEND_METHODS } from '../../scripts/simulator/simulator';
import { DEFAULT_CENTER } from '../../scripts/simulator/venue';
import { eventually } from '../support/eventually';
import { infraEnv, ROOT, runId, serviceDatabaseUrl } from '../support/test-env';

const SEEDED = [1, 5, 6, 8, 9];
const logger = createLogger('simulator-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const topic = `test.${runId()}.simulator.ingest.locations`;

let api: Harness;
let apiServer: http.Server;
let apiUrl: string;
let ingest: Awaited<ReturnType<typeof startIngest>>;
let target: string;
let bus: KafkaBus;
let stopConsumer: () => Promise<void>;
const consumed: LocationPing[] = [];

beforeAll(async () => {
  api = await startTestPersonApi('simulator');
  apiServer = http.createServer(api.app);
  apiUrl = `http://127.0.0.1:${await listen(apiServer, 0, '127.0.0.1')}`;
  const { kafkaBrokers } = infraEnv();
  const config = ingestConfigSchema.parse({
    PORT: '0',
    METRICS_PORT: '0',
    DATABASE_URL: serviceDatabaseUrl('location-ingest', api.testDb.url),
    KAFKA_BROKERS: kafkaBrokers,
    LOCATIONS_TOPIC: topic,
    LOCATIONS_PARTITIONS: '3',
    ...api.auth.env,
  });
  ingest = await startIngest(config, logger);
  await ingest.untilReady();
  target = `127.0.0.1:${ingest.port}`;
  bus = createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: 'simulator-test', logger });
  const consumer = bus.consumer({ groupId: `test-${runId()}-simulator` });
  await consumer.run([topic], async (batch) => {
    for (const m of batch.messages) consumed.push(decodePing(m.value));
  });
  stopConsumer = () => consumer.close();
});

afterAll(async () => {
  await stopConsumer?.();
  await bus?.close();
  await ingest?.stop();
  if (apiServer?.listening) await closeHttpServer(apiServer);
  await api?.close();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs the CLI as a user would (stdout is a pipe, so progress comes as plain lines). */
function simulateCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/simulate.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('runSimulation', () => {
  it.each(SEND_METHODS)('method %s: sends paced pings that are all acknowledged, and exactly the acknowledged ones reach Kafka', async (method) => {
    const before = consumed.length;
    const startedAt = Date.now();
    const progress: number[] = [];
    const stats = await runSimulation(
      {
        target,
        token: api.auth.organizer,
        personIds: SEEDED,
        rate: 500,
        durationMs: 2_000,
        method,
        streams: 2,
        batch: 100,
        sampleEvery: 10,
        seed: 7,
        progressIntervalMs: 500,
      },
      (p) => progress.push(p.sent),
    );

    expect(stats.rejected).toBe(0);
    expect(stats.failed).toBe(0);
    expect(stats.errors).toEqual([]);
    expect(stats.acked).toBe(stats.sent);
    // Paced to 500/s for 2 s: about 1,000 pings, not a burst of everything at once.
    expect(stats.sent).toBeGreaterThanOrEqual(900);
    expect(stats.sent).toBeLessThanOrEqual(1_010);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]!).toBeLessThan(stats.sent * 0.5);

    const mine = await eventually(() => {
      const got = consumed.slice(before);
      expect(got).toHaveLength(stats.acked);
      return got;
    });
    expect(new Set(mine.map((p) => p.eventId)).size).toBe(mine.length);
    expect(new Set(mine.map((p) => p.personId))).toEqual(new Set(SEEDED));
    for (const p of mine) {
      expect(distanceMeters(DEFAULT_CENTER, { latitude: p.latitude!, longitude: p.longitude! })).toBeLessThanOrEqual(142);
      // recorded_at is the real time of sending.
      expect(p.recordedAt!.getTime()).toBeGreaterThanOrEqual(startedAt - 1);
      expect(p.recordedAt!.getTime()).toBeLessThanOrEqual(Date.now());
    }

    // One ping in ten went through Record, with its own acknowledgement time.
    expect(stats.samples.length).toBeGreaterThanOrEqual(Math.floor(stats.sent / 10) - 1);
    const ids = new Set(mine.map((p) => p.eventId));
    for (const s of stats.samples) {
      expect(ids.has(s.eventId)).toBe(true);
      expect(s.ackedAt).toBeGreaterThanOrEqual(s.sentAt);
    }
  });

  it.each(SEND_METHODS)('method %s: counts pings of an unknown person as rejected, with the reason from location-ingest', async (method) => {
    const stats = await runSimulation({
      token: api.auth.organizer,
      target,
      personIds: [999_999],
      rate: 200,
      durationMs: 300,
      method,
      streams: 1,
      batch: 20,
      sampleEvery: 5,
    });
    expect(stats.sent).toBeGreaterThan(0);
    expect(stats.acked).toBe(0);
    expect(stats.rejected).toBe(stats.sent);
    expect(stats.rejections.length).toBeGreaterThan(0);
    for (const r of stats.rejections) expect(r.reason).toMatch(/^person_id: no person with id 999999/);
  });

  it('fails fast with a clear message when location-ingest is not there', async () => {
    const port = await closedPort();
    const err = await runSimulation({
      token: api.auth.organizer,
      target: `127.0.0.1:${port}`,
      personIds: SEEDED,
      rate: 10,
      durationMs: 1_000,
      connectTimeoutMs: 1_000,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(IngestUnreachableError);
    expect(err.message).toContain(`cannot reach location-ingest at 127.0.0.1:${port} — is \`npm start\` running?`);
  });

  it("refuses batches over RecordBatch's 5,000 pings with method batch", async () => {
    const err = await runSimulation({ token: api.auth.organizer, target, personIds: SEEDED, rate: 10, durationMs: 100, batch: 5_001 }).catch((e) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(/batch must be at most 5000 with method batch/);
  });
});

describe('ensurePersons', () => {
  it('reuses the existing persons and creates the missing ones through the API, once', async () => {
    const ids = await ensurePersons(apiUrl, 12, { token: api.auth.organizer });
    expect(ids).toHaveLength(12);
    expect(ids.slice(0, 5)).toEqual(SEEDED);
    const created = await Promise.all(
      ids.slice(5).map(
        async (id) =>
          (await (await fetch(`${apiUrl}/api/persons/${id}`, { headers: { authorization: `Bearer ${api.auth.organizer}` } })).json()) as {
            first_name: string;
            last_name: string;
            company_name: string;
          },
      ),
    );
    expect(created.map((p) => `${p.first_name} ${p.last_name}`).sort()).toEqual(
      ['0006', '0007', '0008', '0009', '0010', '0011', '0012'].map((n) => `Attendee ${n}`),
    );
    expect(created.every((p) => typeof p.company_name === 'string' && p.company_name.length > 0)).toBe(true);
    // Asked again, nothing new is created.
    expect(await ensurePersons(apiUrl, 12, { token: api.auth.organizer })).toEqual(ids);
    expect(await ensurePersons(apiUrl, 3, { token: api.auth.organizer })).toEqual([1, 5, 6]);
  });

  it('says which person-api it could not reach', async () => {
    const port = await closedPort();
    const err = await ensurePersons(`http://127.0.0.1:${port}`, 3, { token: api.auth.organizer }).catch((e) => e);
    expect(err).toBeInstanceOf(PersonApiUnreachableError);
    expect(err.message).toMatch(new RegExp(`^cannot reach person-api at http://127.0.0.1:${port} — is \`npm start\` running\\?`));
  });
});

describe('npm run simulate (the CLI)', () => {
  it.each(SEND_METHODS)('--method %s: creates the persons, sends for the duration, prints progress lines and a summary, exits 0', async (method) => {
    const before = consumed.length;
    const r = await simulateCli([
      '--method',
      method,
      '--persons',
      '15',
      '--rate',
      '300',
      '--duration',
      '2',
      '--streams',
      '2',
      '--target',
      target,
      '--api',
      apiUrl,
      '--token',
      api.auth.organizer,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/simulating 15 persons/);
    expect(r.stdout).toMatch(/^ +1 s {2}sent [\d,]+ {2}acked [\d,]+ {2}rejected 0 {2}rate [\d,]+\/s/m);
    expect(r.stdout).not.toContain('\r');
    const acked = Number(/acknowledged ([\d,]+)/.exec(r.stdout)![1]!.replace(/,/g, ''));
    expect(acked).toBeGreaterThanOrEqual(540);
    expect(r.stdout).toMatch(/rejected 0 {3}failed 0/);
    await eventually(() => expect(consumed.length - before).toBe(acked));
    expect((await ensurePersons(apiUrl, 15, { token: api.auth.organizer })).length).toBe(15);
  });

  it('exits 1 with a clear message when location-ingest is not running', async () => {
    const port = await closedPort();
    const r = await simulateCli(['--persons', '5', '--duration', '1', '--target', `127.0.0.1:${port}`, '--api', apiUrl, '--token', api.auth.organizer]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach location-ingest at 127.0.0.1:${port} — is \`npm start\` running?`);
  });

  it('exits 2 naming a bad flag', async () => {
    const r = await simulateCli(['--rate', 'fast']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rate: /);
    const method = await simulateCli(['--method', 'carrier-pigeon']);
    expect(method.code).toBe(2);
    expect(method.stderr).toMatch(/--method: /);
    const batch = await simulateCli(['--batch', '5001']);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--batch: at most 5,000 pings per RecordBatch call/);
  });
});
