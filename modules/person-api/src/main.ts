import { createHttpServer, loadServerTls } from '@udaconnect/common';
import { closeHttpServer, createDatabase, createLogger, installShutdown, listen, loadConfigOrExit } from '@udaconnect/common';
import { createApp } from './app';
import { personApiConfigSchema } from './config';
import { startPingPublishing } from './pings';
import { connectionServiceClient } from './connection-client';
import { startPersonApiAuth } from './auth-setup';
import { serviceTokenSource } from './service-token';

async function main() {
  const config = loadConfigOrExit('person-api', personApiConfigSchema);
  // Before anything connects: a certificate that cannot be used stops the start at once.
  const tls = loadServerTls(config);
  const logger = createLogger('person-api', config.LOG_LEVEL);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: config.DB_POOL_MAX });
  await db.waitUntilReady(Number.POSITIVE_INFINITY);
  const pings = await startPingPublishing({
    brokers: config.KAFKA_BROKERS,
    topic: config.LOCATIONS_TOPIC,
    partitions: config.LOCATIONS_PARTITIONS,
    knex: db.knex,
    logger,
  });
  const auth = await startPersonApiAuth(config, db.knex, logger);
  const connections = connectionServiceClient(config.CONNECTION_SERVICE_ADDRESS, serviceTokenSource(auth.signer));
  const app = createApp({
    db,
    logger,
    bodyLimit: config.BODY_LIMIT,
    ...pings,
    connections,
    auth,
    corsOrigins: config.CORS_ORIGINS,
    degradedChecks: { kafka: () => pings.bus.isReachable(), connection_service: () => connections.isReachable() },
  });
  const server = createHttpServer(app, tls);
  const port = await listen(server, config.PORT);
  logger.info({ port, tls: tls !== undefined }, `person-api listening on ${tls ? 'https' : 'http'}://localhost:${port}/`);
  installShutdown(logger, [
    { name: 'http', run: () => closeHttpServer(server) },
    { name: 'kafka', run: () => pings.close() },
    { name: 'connection-service client', run: () => connections.close() },
    { name: 'revocation list', run: () => auth.stop() },
    { name: 'database', run: () => db.close() },
  ]);
}

main().catch((err) => {
  process.stderr.write(`person-api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
