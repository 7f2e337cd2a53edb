import { createLogger, installShutdown, loadConfigOrExit } from '@udaconnect/common';
import { connectionConfigSchema } from './config';
import { startConnectionService } from './connection-service';

async function main() {
  const config = loadConfigOrExit('connection-service', connectionConfigSchema);
  const logger = createLogger('connection-service', config.LOG_LEVEL);
  const service = await startConnectionService(config, logger);
  logger.info({ port: service.port }, `connection-service (gRPC) listening on localhost:${service.port}`);
  installShutdown(logger, [{ name: 'connection-service', run: () => service.stop() }], config.DRAIN_TIMEOUT_MS + 10_000);
}

main().catch((err) => {
  process.stderr.write(`connection-service: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
