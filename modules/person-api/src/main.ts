import http from 'node:http';
import { closeHttpServer, createDatabase, createLogger, installShutdown, listen, loadConfigOrExit } from '@udaconnect/common';
import { createApp } from './app';
import { personApiConfigSchema } from './config';

async function main() {
  const config = loadConfigOrExit('person-api', personApiConfigSchema);
  const logger = createLogger('person-api', config.LOG_LEVEL);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: config.DB_POOL_MAX });
  // Serve even while the database is still coming up: /readyz says when we are usable.
  void db.waitUntilReady(Number.POSITIVE_INFINITY).then(() => logger.info('database ready'));
  const server = http.createServer(createApp({ db, logger, bodyLimit: config.BODY_LIMIT }));
  const port = await listen(server, config.PORT);
  logger.info({ port }, `person-api listening on http://localhost:${port}/`);
  installShutdown(logger, [
    { name: 'http', run: () => closeHttpServer(server) },
    { name: 'database', run: () => db.close() },
  ]);
}

main().catch((err) => {
  process.stderr.write(`person-api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
