/** Builds connection-service from its config: database pool, gRPC server (health, reflection), DB health polling. */
import {
  createDatabase,
  createMetricsRegistry,
  databaseMetrics,
  startGrpcServer,
  startOperatorServer,
  startTokenVerification,
  type GrpcServerHandle,
  type Logger,
} from '@udaconnect/common';
import { ConnectionServiceDefinition } from '@udaconnect/proto';
import type { ConnectionConfig } from './config';
import { createConnectionHandlers } from './connection-handlers';
import { CONNECTION_SESSION_SETTINGS } from './connection-query';

export const CONNECTION_SERVICE_NAME = 'udaconnect.connection.v1.ConnectionService';

export interface ConnectionService {
  port: number;
  /** The operator port: /metrics, /healthz, /readyz (METRICS_PORT). */
  metricsPort: number;
  /** Stop taking calls, let in-flight ones finish, close the pool. */
  stop(): Promise<void>;
}

export async function startConnectionService(config: ConnectionConfig, logger: Logger): Promise<ConnectionService> {
  const db = createDatabase({
    url: config.DATABASE_URL,
    logger,
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    applicationName: 'connection-service',
    sessionSettings: CONNECTION_SESSION_SETTINGS,
  });
  const registry = createMetricsRegistry('connection-service');
  databaseMetrics(registry, db.knex);
  // The service starts even while the database is down: it answers NOT_SERVING (so Kubernetes
  // keeps it out of rotation) and turns SERVING once the database answers.
  const databaseUp = await db.isReady();
  if (!databaseUp) logger.warn('database unreachable at start-up; health is NOT_SERVING until it answers');

  // Revoked ids are read from the same database; while it is down the last list stays in force
  // (never read yet: calls are refused with UNAVAILABLE and health is NOT_SERVING).
  const auth = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex: db.knex, logger, pollMs: config.REVOCATION_POLL_MS });

  let server: GrpcServerHandle | undefined;
  const handlers = createConnectionHandlers({
    knex: db.knex,
    verifier: auth.verifier,
    logger,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    limits: {
      perCaller: config.MAX_CONCURRENT_QUERIES_PER_CALLER,
      service: config.DB_POOL_MAX,
      maxQueryPairs: config.MAX_QUERY_PAIRS,
      maxUnpagedResults: config.MAX_UNPAGED_RESULTS,
    },
    metrics: registry,
    onDatabaseUnavailable: () => server?.setServing(false),
  });
  const operator = await startOperatorServer({
    registry,
    port: config.METRICS_PORT,
    host: config.METRICS_HOST,
    logger,
    readiness: { database: () => db.isReady(), revocation_list: () => auth.revocations.loaded },
  });
  try {
    server = await startGrpcServer({
      port: config.PORT,
      logger,
      metrics: registry,
      serving: databaseUp && auth.revocations.loaded,
      services: [{ name: CONNECTION_SERVICE_NAME, definition: ConnectionServiceDefinition, implementation: handlers }],
    });
  } catch (err) {
    // A port in use: leave nothing open behind the failed start.
    auth.stop();
    await operator.close();
    await db.close();
    throw err;
  }
  const grpcServer = server;

  grpcServer.followHealth(async () => auth.revocations.loaded && (await db.isReady()), config.DB_HEALTH_INTERVAL_MS);

  return {
    port: grpcServer.port,
    metricsPort: operator.port,
    async stop() {
      auth.stop();
      await grpcServer.shutdown(config.DRAIN_TIMEOUT_MS);
      await operator.close();
      await db.close();
    },
  };
}
