/**
 * What the fault tests share: location-writer as a real process, a device that re-sends what was
 * not acknowledged, and the exactly-once check on the rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { createLogger, parseConfig } from '@udaconnect/common';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase, testKnex } from '../support/test-database';
import { ROOT, runId, serviceDatabaseUrl } from '../support/test-env';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultRig {
  testDb: TestDatabase;
  knex: Knex;
  /** location-ingest, in this process, on a private topic of 3 partitions. */
  client: LocationIngestClient;
  /** The environment of a location-writer process reading that topic (one consumer group). */
  writerEnv: Record<string, string>;
  close(): Promise<void>;
}

/** A private test database, location-ingest in-process on `kafkaBrokers`, and the writers' environment; `kafkaEnv` goes to both. */
export async function startFaultRig(label: string, kafkaBrokers: string, kafkaEnv: Record<string, string> = {}): Promise<FaultRig> {
  const logger = createLogger('faults-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const unique = `${runId()}.${label}.${process.pid}`;
  const topic = `test.${unique}.locations`;
  const testDb = await createTestDatabase(label);
  const knex = testKnex(testDb.url);
  const env = { KAFKA_BROKERS: kafkaBrokers, LOCATIONS_TOPIC: topic, LOCATIONS_PARTITIONS: '3', ...kafkaEnv };
  const auth = await testAuth();
  const ingest = await startIngest(
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
  const client = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions());
  return {
    testDb,
    knex,
    client,
    writerEnv: {
      ...env,
      DATABASE_URL: serviceDatabaseUrl('location-writer', testDb.url),
      PORT: '0',
      METRICS_PORT: '0',
      KAFKA_GROUP_ID: `test.${unique}.writer`,
      LOCATIONS_DLQ_TOPIC: `${topic}.dlq`,
      LOG_LEVEL: 'warn',
    },
    async close() {
      client.close();
      await ingest.stop();
      await knex.destroy();
      await testDb.drop();
    },
  };
}

/**
 * location-writer as a real process; with `restart`, started again when it dies, as Kubernetes would.
 * Its log (warnings and errors) goes to test-output/faults/<name>.log, for a failure's diagnosis.
 */
export class WriterProcess {
  child: ChildProcess | undefined;
  restarts = 0;
  private stopping = false;
  constructor(
    private readonly env: Record<string, string>,
    private readonly name: string,
    private readonly restart = true,
  ) {}
  start(): void {
    this.stopping = false;
    const dir = join(ROOT, 'test-output', 'faults');
    mkdirSync(dir, { recursive: true });
    const log = openSync(join(dir, `${this.name}.log`), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/location-writer/src/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', log, log],
    });
    child.once('exit', () => {
      if (this.restart && this.child === child && !this.stopping) {
        this.restarts++;
        setTimeout(() => !this.stopping && this.start(), 500);
      }
    });
    this.child = child;
  }
  kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.stopping = true;
    return new Promise((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

/** Streams batches of pings; keeps every ping until it is acknowledged. */
export class Device {
  acked = new Set<string>();
  /** When each batch was acknowledged (ms since the epoch), for "ingest kept acknowledging". */
  ackTimes: number[] = [];
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
      if (rejected.size < batch.length) this.ackTimes.push(Date.now());
    } catch {
      this.failures++;
      for (const p of batch) this.unacked.push(p);
    }
  }

  /** Stops producing new pings (what is not acknowledged yet stays so). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Stops producing new pings, then re-sends until everything is acknowledged. */
  async finish(deadlineMs = 60_000): Promise<void> {
    await this.stop();
    const end = Date.now() + deadlineMs;
    while (this.unacked.length && Date.now() < end) {
      await this.send(this.unacked.splice(0));
      if (this.unacked.length) await sleep(500);
    }
    if (this.unacked.length) throw new Error(`${this.unacked.length} pings were never acknowledged`);
  }
}

/**
 * Every acknowledged ping is a row, and no event id is stored twice (the rows of the last hour in
 * this test's own database: every ping any device of the test sent).
 */
export async function expectExactlyOnce(knex: Knex, device: Device, waitMs = 120_000, diagnose?: (missing: string[]) => Promise<string>): Promise<void> {
  const ids = [...device.acked];
  try {
    await eventually(
      async () => {
        const { rows } = await knex.raw('SELECT count(*)::int AS n FROM location WHERE event_id = ANY(?::uuid[])', [ids]);
        expect(rows[0].n).toBe(ids.length);
      },
      waitMs,
      500,
    );
  } catch (err) {
    if (!diagnose) throw err;
    const { rows } = await knex.raw<{ rows: Array<{ id: string }> }>(
      'SELECT a.id FROM unnest(?::uuid[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM location l WHERE l.event_id = a.id)',
      [ids],
    );
    throw new Error(`${(err as Error).message}\n${rows.length} acknowledged pings have no row: ${await diagnose(rows.map((r) => r.id))}`);
  }
  const { rows } = await knex.raw(
    `SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct_ids FROM location WHERE creation_time > now() - interval '1 hour'`,
  );
  expect(rows[0].total).toBe(rows[0].distinct_ids);
  expect(rows[0].total).toBeGreaterThanOrEqual(ids.length);
}
