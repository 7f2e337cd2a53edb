/** Builds connection-service from its config: database pool, gRPC server (health, reflection), DB health polling. */
import { createDatabase, startGrpcServer, startTokenVerification, type GrpcServerHandle, type Logger } from '@udaconnect/common';
import { ConnectionServiceDefinition } from '@udaconnect/proto';
import type { ConnectionConfig } from './config';
import { createConnectionHandlers } from './connection-handlers';
import { CONNECTION_SESSION_SETTINGS } from './connection-query';

export const CONNECTION_SERVICE_NAME = 'udaconnect.connection.v1.ConnectionService';

export interface ConnectionService {
  port: number;
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
  // The service starts even while the database is down: it answers NOT_SERVING (so Kubernetes
  // keeps it out of rotation) and turns SERVING once the database answers.
  const databaseUp = await db.isReady();
  if (!databaseUp) logger.warn('database unreachable at start-up; health is NOT_SERVING until it answers');

  // Revoked ids are read from the same database; while it is down the last list stays in force.
  const auth = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex: db.knex, logger, pollMs: config.REVOCATION_POLL_MS });

  let server: GrpcServerHandle | undefined;
  const handlers = createConnectionHandlers({
    knex: db.knex,
    verifier: auth.verifier,
    logger,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    onDatabaseUnavailable: () => server?.setServing(false),
  });
  server = await startGrpcServer({
    port: config.PORT,
    logger,
    serving: databaseUp,
    services: [{ name: CONNECTION_SERVICE_NAME, definition: ConnectionServiceDefinition, implementation: handlers }],
  });
  const grpcServer = server;

  grpcServer.followHealth(() => db.isReady(), config.DB_HEALTH_INTERVAL_MS);

  return {
    port: grpcServer.port,
    async stop() {
      auth.stop();
      await grpcServer.shutdown(config.DRAIN_TIMEOUT_MS);
      await db.close();
    },
  };
}
