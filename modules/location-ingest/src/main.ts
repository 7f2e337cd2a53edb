import { runService } from '@udaconnect/common';
import { ingestConfigSchema } from './config';
import { startIngest } from './ingest-service';

runService('location-ingest', ingestConfigSchema, async (config, logger) => {
  const ingest = await startIngest(config, logger);
  logger.info(
    { port: ingest.port, tls: ingest.tls, healthPort: ingest.healthPort },
    `location-ingest (gRPC${ingest.tls ? ' over TLS' : ''}) listening on localhost:${ingest.port}` +
      (ingest.healthPort !== undefined ? `; plaintext health on localhost:${ingest.healthPort}` : ''),
  );
  return { shutdownSteps: [{ name: 'ingest', run: () => ingest.stop() }], shutdownTimeoutMs: config.DRAIN_TIMEOUT_MS + 10_000 };
});
