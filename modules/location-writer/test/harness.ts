/**
 * Starts location-writer in-process against the real PostGIS and Kafka, with a private
 * database copy, group id and topic names; plus helpers to produce pings and read topics back.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import {
  createDatabase,
  createKafkaBus,
  createLogger,
  parseConfig,
  type BusProducer,
  type Database,
  type IncomingMessage,
  type KafkaBus,
} from '@udaconnect/common';
import { type LocationPing } from '@udaconnect/domain';
import { locationWriterConfigSchema, type LocationWriterConfig } from '../src/config';
import { startLocationWriter, type LocationWriter } from '../src/location-writer';
import { createTestDatabase, type TestDatabase, testKnex } from '../../../test/support/test-database';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';

const SEEDED_PERSON_IDS = [1, 5, 6, 8, 9];

export const testLogger = (name: string) => createLogger(name, process.env.TEST_LOG_LEVEL ?? 'silent');

export interface WriterTestBed {
  testDb: TestDatabase;
  /** A direct connection to the test database, for assertions (never through a proxy). */
  knex: Knex;
  bus: KafkaBus;
  producer: BusProducer;
  topic: string;
  dlqTopic: string;
  groupId: string;
  /** Config for a writer on this bed's topics and group; `databaseUrl` defaults to the test database. */
  config(overrides?: { databaseUrl?: string }): LocationWriterConfig;
  startWriter(overrides?: { databaseUrl?: string }): Promise<LocationWriter>;
  close(): Promise<void>;
}

/** A pool on the bed's test database as the writer's own role (what its grants allow), named `label` in the logs. */
export function writerRoleDatabase(bed: WriterTestBed, label: string, poolMax: number): Database {
  return createDatabase({ url: serviceDatabaseUrl('location-writer', bed.testDb.url), logger: testLogger(label), poolMax });
}

export async function createWriterTestBed(label: string): Promise<WriterTestBed> {
  const testDb = await createTestDatabase(`writer${label}`);
  const knex = testKnex(testDb.url);
  const { kafkaBrokers } = infraEnv();
  const bus = createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: `writer-test-${label}`, logger: testLogger('writer-test-bus') });
  const unique = `${runId()}.${label}.${process.pid}`;
  const topic = `test.${unique}.locations`;
  const dlqTopic = `test.${unique}.locations.dlq`;
  const groupId = `test.${unique}.location-writer`;
  const producer = await bus.producer().catch(async (err) => {
    await bus.close();
    throw err;
  });
  const writers = new Set<LocationWriter>();

  const config = (overrides: { databaseUrl?: string } = {}) =>
    parseConfig(locationWriterConfigSchema, {
      PORT: '0',
      METRICS_PORT: '0',
      // The writer's own role, also through a proxy URL given by a test.
      DATABASE_URL: serviceDatabaseUrl('location-writer', overrides.databaseUrl ?? testDb.url),
      KAFKA_BROKERS: kafkaBrokers,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      KAFKA_GROUP_ID: groupId,
      LOCATIONS_TOPIC: topic,
      LOCATIONS_DLQ_TOPIC: dlqTopic,
      LOCATIONS_PARTITIONS: '3',
      DB_POOL_MAX: '3',
      // The tests' pings are from 2020: no retention run may delete them mid-test (retention.test.ts turns it on).
      RETENTION_DAYS: '0',
    });

  return {
    testDb,
    knex,
    bus,
    producer,
    topic,
    dlqTopic,
    groupId,
    config,
    async startWriter(overrides) {
      const writer = await startLocationWriter(config(overrides), testLogger('location-writer-test'));
      writers.add(writer);
      const stop = writer.stop.bind(writer);
      writer.stop = async () => {
        writers.delete(writer);
        await stop();
      };
      return writer;
    },
    async close() {
      await Promise.allSettled([...writers].map((w) => w.stop()));
      await producer.close().catch(() => undefined);
      await bus.close();
      await knex.destroy();
      await testDb.drop();
    },
  };
}

/** A valid ping with a fresh event id; times carry milliseconds. */
export function makePing(i: number, overrides: Partial<LocationPing> = {}): LocationPing {
  return {
    eventId: randomUUID(),
    personId: SEEDED_PERSON_IDS[i % SEEDED_PERSON_IDS.length]!,
    // Latitude and longitude ranges that cannot be mistaken for each other.
    latitude: -33.8 + i * 0.000123,
    longitude: 151.2 - i * 0.000457,
    recordedAt: new Date(Date.UTC(2020, 7, 18, 10, 37, 6, 0) + i * 1_001 + (i % 7) * 13),
    ...overrides,
  };
}

/** How many of these event ids are stored. */
export async function countStored(knex: Knex, eventIds: string[]): Promise<number> {
  const { rows } = await knex.raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM location WHERE event_id = ANY(?::uuid[])', [eventIds]);
  return rows[0]!.n;
}

/**
 * Reads `topic` from the beginning with a throwaway consumer group until `enough` says so.
 * Returns every message seen.
 */
export async function readTopic(
  bus: KafkaBus,
  topic: string,
  enough: (messages: IncomingMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<IncomingMessage[]> {
  const consumer = bus.consumer({ groupId: `test.${runId()}.reader.${randomUUID()}` });
  const seen: IncomingMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`read ${seen.length} messages from ${topic} within ${timeoutMs} ms; not enough`)), timeoutMs);
      consumer.onCrash(reject);
      consumer
        .run([topic], async (batch) => {
          seen.push(...batch.messages);
          if (enough(seen)) resolve();
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  return seen;
}

/** GET on the writer's health server; no keep-alive, so no socket outlives the test. */
export function httpGet(port: number, path: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
