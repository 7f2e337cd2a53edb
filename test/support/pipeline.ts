/**
 * The whole pipeline in-process — location-ingest, location-writer and person-api, and with
 * `connectionService: true` connection-service with its live meetings — on one private test
 * database and private topic names, over the real broker and PostGIS.
 */
import * as grpc from '@grpc/grpc-js';
import type { Knex } from 'knex';
import { createLogger, parseConfig } from '@udaconnect/common';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { startIngest } from '../../modules/location-ingest/src/ingest-service';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { startLocationWriter, type LocationWriter } from '../../modules/location-writer/src/location-writer';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { startPersonApi } from '../../modules/person-api/src/person-api';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { startConnectionService, type ConnectionService } from '../../modules/connection-service/src/connection-service';
import { waitForKafkaProducer } from '../../modules/person-api/test/harness';
import { testAuth, type TestAuth } from './auth';
import { createTestDatabase, type TestDatabase, testKnex } from './test-database';
import { infraEnv, runId, serviceDatabaseUrl } from './test-env';

const logger = createLogger('pipeline-test', process.env.TEST_LOG_LEVEL ?? 'silent');

export interface Pipeline {
  knex: Knex;
  /** The worker's test keys; `client` sends auth.organizer on every call. */
  auth: TestAuth;
  testDb: TestDatabase;
  ingestPort: number;
  /** The pings' topic (private to this pipeline). */
  topic: string;
  apiUrl: string;
  /** With `connectionService: true`: its gRPC port (ConnectionService and Meetings). */
  connectionPort?: number;
  client: LocationIngestClient;
  record(ping: LocationPing): Promise<{ eventId: string }>;
  recordStream(pings: LocationPing[]): Promise<StreamSummary>;
  recordBatch(pings: LocationPing[]): Promise<StreamSummary>;
  /** Starts the writer again; `env` overrides its configuration (another KAFKA_GROUP_ID replays the topic). */
  startWriter(env?: Record<string, string>): Promise<LocationWriter>;
  stopWriter(): Promise<void>;
  close(): Promise<void>;
}

export interface PipelineOptions {
  /** Also a connection-service reading the pings' topic (live meetings); person-api relays to it. */
  connectionService?: boolean;
  /** More environment for that connection-service (MEETING_COOLDOWN_MINUTES, say). */
  connectionServiceEnv?: Record<string, string>;
}

export async function startPipeline(label: string, opts: PipelineOptions = {}): Promise<Pipeline> {
  const testDb = await createTestDatabase(label);
  const { kafkaBrokers } = infraEnv();
  const unique = `${runId()}.${label}.${process.pid}`;
  const topic = `test.${unique}.locations`;
  const common = { DATABASE_URL: testDb.url, KAFKA_BROKERS: kafkaBrokers, LOCATIONS_TOPIC: topic, LOCATIONS_PARTITIONS: '3' };
  const auth = await testAuth();

  const ingest = await startIngest(
    parseConfig(ingestConfigSchema, { ...common, DATABASE_URL: serviceDatabaseUrl('location-ingest', testDb.url), ...auth.env, PORT: '0', METRICS_PORT: '0' }),
    logger,
  );
  const writerEnv = {
    ...common,
    DATABASE_URL: serviceDatabaseUrl('location-writer', testDb.url),
    PORT: '0',
    METRICS_PORT: '0',
    KAFKA_GROUP_ID: `test.${unique}.writer`,
    LOCATIONS_DLQ_TOPIC: `${topic}.dlq`,
    // Pings with fixed dates would age past the retention cutoff: no retention runs here.
    RETENTION_DAYS: '0',
  };
  const writerConfig = parseConfig(locationWriterConfigSchema, writerEnv);
  let writer: LocationWriter | undefined = await startLocationWriter(writerConfig, logger);

  let connections: ConnectionService | undefined;
  if (opts.connectionService) {
    connections = await startConnectionService(
      parseConfig(connectionConfigSchema, {
        ...common,
        ...auth.env,
        DATABASE_URL: serviceDatabaseUrl('connection-service', testDb.url),
        PORT: '0',
        METRICS_PORT: '0',
        ...opts.connectionServiceEnv,
      }),
      logger,
    );
  }

  // person-api exactly as main.ts starts it (real Kafka publisher).
  const api = await startPersonApi(
    parseConfig(personApiConfigSchema, {
      ...common,
      ...auth.env,
      DATABASE_URL: serviceDatabaseUrl('person-api', testDb.url),
      PORT: '0',
      METRICS_PORT: '0',
      DB_POOL_MAX: '3',
      CONNECTION_SERVICE_ADDRESS: connections ? `127.0.0.1:${connections.port}` : '127.0.0.1:1',
    }),
    logger,
  );
  await Promise.all([waitForKafkaProducer(api.app), ingest.untilReady()]);

  const knex = testKnex(testDb.url);
  const client = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), auth.grpcOptions());

  return {
    knex,
    auth,
    testDb,
    ingestPort: ingest.port,
    topic,
    apiUrl: `http://127.0.0.1:${api.port}`,
    ...(connections ? { connectionPort: connections.port } : {}),
    client,
    record: (ping) => new Promise((resolve, reject) => client.record(ping, (err, res) => (err ? reject(err) : resolve(res)))),
    recordStream: (list) =>
      new Promise((resolve, reject) => {
        const call = client.recordStream((err, res) => (err ? reject(err) : resolve(res)));
        for (const p of list) call.write(p);
        call.end();
      }),
    recordBatch: (pings) => new Promise((resolve, reject) => client.recordBatch({ pings }, (err, res) => (err ? reject(err) : resolve(res)))),
    async startWriter(env) {
      writer = await startLocationWriter(env ? parseConfig(locationWriterConfigSchema, { ...writerEnv, ...env }) : writerConfig, logger);
      return writer;
    },
    async stopWriter() {
      await writer?.stop();
      writer = undefined;
    },
    async close() {
      client.close();
      await api.close();
      await connections?.stop();
      await writer?.stop();
      await ingest.stop();
      await knex.destroy();
      await testDb.drop();
    },
  };
}
