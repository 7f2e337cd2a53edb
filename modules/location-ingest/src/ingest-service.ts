/**
 * Builds location-ingest from its config: token verification, the person cache, Kafka publishing,
 * the gRPC server. It listens at once and never waits for a dependency (docs/decisions.md, "Start
 * without dependencies"): health is NOT_SERVING until Kafka is connected and tokens can be
 * checked, and follows Kafka after that.
 */
import {
  checkReadiness,
  createDatabase,
  createMetricsRegistry,
  databaseMetrics,
  loadServerTls,
  sleep,
  startGrpcServer,
  startOperatorServer,
  startTokenVerification,
  topicReplication,
  type Logger,
} from '@udaconnect/common';
import { pingMetrics, PersonDirectory, startPingPublishing } from '@udaconnect/domain';
import type { IngestConfig } from './config';
import { createIngestHandlers, ingestServiceDefinition } from './ingest-handlers';
import { ingestQuotas } from './quotas';

export const INGEST_SERVICE_NAME = 'udaconnect.location.v1.LocationIngest';

export async function startIngest(config: IngestConfig, logger: Logger) {
  // Before anything connects: a certificate that cannot be used stops the start at once.
  const tls = loadServerTls(config);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: 4 });
  const registry = createMetricsRegistry('location-ingest');
  databaseMetrics(registry, db.knex);
  const metrics = pingMetrics(registry, 'grpc');
  const persons = new PersonDirectory(db.knex);
  persons.start();
  const auth = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex: db.knex, logger, pollMs: config.REVOCATION_POLL_MS });
  const pings = startPingPublishing({
    brokers: config.KAFKA_BROKERS,
    clientId: 'location-ingest',
    topic: config.LOCATIONS_TOPIC,
    partitions: config.LOCATIONS_PARTITIONS,
    replication: topicReplication(config),
    logger,
    whileDown: 'health is NOT_SERVING and pings are refused with UNAVAILABLE until it is',
    batching: { maxBatch: config.PUBLISH_MAX_BATCH, lingerMs: config.PUBLISH_LINGER_MS },
    metrics,
  });
  const closeClients = async () => {
    persons.stop();
    auth.stop();
    await pings.close();
    await db.close();
  };
  // Ready: Kafka answers through our producer, and tokens can be checked.
  const readiness = {
    kafka: () => pings.isReachable(Math.min(2_000, config.KAFKA_HEALTH_INTERVAL_MS)),
    revocation_list: () => auth.revocations.loaded,
  };
  const isReady = async () => Object.values(await checkReadiness(readiness)).every(Boolean);

  let grpcServer: Awaited<ReturnType<typeof startGrpcServer>> | undefined;
  const handlers = createIngestHandlers({
    publisher: pings,
    persons,
    verifier: auth.verifier,
    logger,
    quotas: ingestQuotas(config),
    metrics,
    onKafkaResult: (ok) => {
      if (!ok) grpcServer?.setServing(false);
    },
  });
  let operator: Awaited<ReturnType<typeof startOperatorServer>> | undefined;
  try {
    operator = await startOperatorServer({ registry, port: config.METRICS_PORT, host: config.METRICS_HOST, logger, readiness });
    grpcServer = await startGrpcServer({
      port: config.PORT,
      logger,
      tls,
      healthPort: config.HEALTH_PORT,
      serving: false,
      metrics: registry,
      services: [{ name: INGEST_SERVICE_NAME, definition: ingestServiceDefinition, implementation: handlers }],
    });
  } catch (err) {
    // A port in use: leave nothing open behind the failed start.
    await operator?.close();
    await closeClients();
    throw err;
  }
  const server = grpcServer;
  const metricsServer = operator;
  server.followHealth(isReady, config.KAFKA_HEALTH_INTERVAL_MS);

  return {
    port: server.port,
    /** The plaintext health-only port (HEALTH_PORT), if configured. */
    healthPort: server.healthPort,
    /** Whether PORT speaks TLS. */
    tls: tls !== undefined,
    /** The operator port: /metrics, /healthz, /readyz (METRICS_PORT). */
    metricsPort: metricsServer.port,
    isReady,
    /** Resolves once Kafka is connected and tokens can be checked (tests and benchmarks wait for it). */
    async untilReady(timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await isReady())) {
        if (Date.now() > deadline) throw new Error(`location-ingest not ready after ${timeoutMs} ms (Kafka or the database unreachable)`);
        await sleep(100);
      }
      server.setServing(true);
    },
    /** Stop taking calls, let streams finish, flush to Kafka, close everything. */
    async stop() {
      await server.shutdown(config.DRAIN_TIMEOUT_MS);
      await pings.drain();
      await metricsServer.close();
      await closeClients();
    },
  };
}
