/** Builds location-ingest from its config: DB (person cache), Kafka publisher, gRPC server, Kafka health. */
import { createDatabase, createKafkaBus, loadServerTls, startTokenVerification, startGrpcServer, type Logger } from '@udaconnect/common';
import { PersonDirectory, PingPublisher } from '@udaconnect/domain';
import { LocationIngestDefinition } from '@udaconnect/proto';
import type { IngestConfig } from './config';
import { createIngestHandlers } from './ingest-handlers';

export const INGEST_SERVICE_NAME = 'udaconnect.location.v1.LocationIngest';

export async function startIngest(config: IngestConfig, logger: Logger) {
  // Before anything connects: a certificate that cannot be used stops the start at once.
  const tls = loadServerTls(config);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: 4 });
  await db.waitUntilReady();
  const persons = new PersonDirectory(db.knex);
  await persons.start();
  const auth = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex: db.knex, logger, pollMs: config.REVOCATION_POLL_MS });

  const bus = createKafkaBus({ brokers: config.KAFKA_BROKERS, clientId: 'location-ingest', logger });
  // The DLQ belongs to location-writer, which creates it.
  const producer = await bus
    .ensureTopics([{ topic: config.LOCATIONS_TOPIC, numPartitions: config.LOCATIONS_PARTITIONS }])
    .then(() => bus.producer())
    .catch(async (err) => {
      // Leave nothing open behind a failed start.
      persons.stop();
      auth.stop();
      await bus.close();
      await db.close();
      throw err;
    });
  const publisher = new PingPublisher(producer, config.LOCATIONS_TOPIC, { maxBatch: config.PUBLISH_MAX_BATCH, lingerMs: config.PUBLISH_LINGER_MS });

  let grpcServer: Awaited<ReturnType<typeof startGrpcServer>> | undefined;
  const handlers = createIngestHandlers({
    publisher,
    persons,
    verifier: auth.verifier,
    logger,
    onKafkaResult: (ok) => {
      if (!ok) grpcServer?.setServing(false);
    },
  });
  grpcServer = await startGrpcServer({
    port: config.PORT,
    logger,
    tls,
    healthPort: config.HEALTH_PORT,
    services: [{ name: INGEST_SERVICE_NAME, definition: LocationIngestDefinition, implementation: handlers }],
  });
  const server = grpcServer;

  // Health follows Kafka: NOT_SERVING while no broker answers, SERVING again when one does.
  server.followHealth(() => bus.isReachable(Math.min(2_000, config.KAFKA_HEALTH_INTERVAL_MS)), config.KAFKA_HEALTH_INTERVAL_MS);

  return {
    port: server.port,
    /** The plaintext health-only port (HEALTH_PORT), if configured. */
    healthPort: server.healthPort,
    /** Whether PORT speaks TLS. */
    tls: tls !== undefined,
    publisher,
    /** Stop taking calls, let streams finish, flush to Kafka, close everything. */
    async stop() {
      await server.shutdown(config.DRAIN_TIMEOUT_MS);
      await publisher.drain();
      persons.stop();
      auth.stop();
      await producer.close();
      await bus.close();
      await db.close();
    },
  };
}
