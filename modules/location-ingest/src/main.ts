import { createLogger, installShutdown, loadConfigOrExit } from '@udaconnect/common';
import { ingestConfigSchema } from './config';
import { startIngest } from './ingest-service';

async function main() {
  const config = loadConfigOrExit('location-ingest', ingestConfigSchema);
  const logger = createLogger('location-ingest', config.LOG_LEVEL);
  const ingest = await startIngest(config, logger);
  logger.info(
    { port: ingest.port, tls: ingest.tls, healthPort: ingest.healthPort },
    `location-ingest (gRPC${ingest.tls ? ' over TLS' : ''}) listening on localhost:${ingest.port}` +
      (ingest.healthPort !== undefined ? `; plaintext health on localhost:${ingest.healthPort}` : ''),
  );
  installShutdown(logger, [{ name: 'ingest', run: () => ingest.stop() }], config.DRAIN_TIMEOUT_MS + 10_000);
}

main().catch((err) => {
  process.stderr.write(`location-ingest: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
