import http from 'node:http';
import { closeHttpServer, createDatabase, createLogger, installShutdown, listen, loadConfigOrExit } from '@udaconnect/common';
import { createApp } from './app';
import { personApiConfigSchema } from './config';
import { startPingPublishing } from './pings';
import { connectionServiceClient } from './connection-client';

async function main() {
  const config = loadConfigOrExit('person-api', personApiConfigSchema);
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
  const connections = connectionServiceClient(config.CONNECTION_SERVICE_ADDRESS);
  const app = createApp({
    db,
    logger,
    bodyLimit: config.BODY_LIMIT,
    ...pings,
    connections,
    degradedChecks: { kafka: () => pings.bus.isReachable(), connection_service: () => connections.isReachable() },
  });
  const server = http.createServer(app);
  const port = await listen(server, config.PORT);
  logger.info({ port }, `person-api listening on http://localhost:${port}/`);
  installShutdown(logger, [
    { name: 'http', run: () => closeHttpServer(server) },
    { name: 'kafka', run: () => pings.close() },
    { name: 'connection-service client', run: () => connections.close() },
    { name: 'database', run: () => db.close() },
  ]);
}

main().catch((err) => {
  process.stderr.write(`person-api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
