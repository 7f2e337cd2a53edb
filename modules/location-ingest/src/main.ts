import { createLogger, installShutdown, loadConfigOrExit } from '@udaconnect/common';
import { ingestConfigSchema } from './config';
import { startIngest } from './ingest-service';

async function main() {
  const config = loadConfigOrExit('location-ingest', ingestConfigSchema);
  const logger = createLogger('location-ingest', config.LOG_LEVEL);
  const ingest = await startIngest(config, logger);
  logger.info({ port: ingest.port }, `location-ingest (gRPC) listening on localhost:${ingest.port}`);
  installShutdown(logger, [{ name: 'ingest', run: () => ingest.stop() }], config.DRAIN_TIMEOUT_MS + 10_000);
}

main().catch((err) => {
  process.stderr.write(`location-ingest: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
