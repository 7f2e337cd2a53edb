import { runService } from '@udaconnect/common';
import { connectionConfigSchema } from './config';
import { startConnectionService } from './connection-service';

runService('connection-service', connectionConfigSchema, async (config, logger) => {
  const service = await startConnectionService(config, logger);
  logger.info({ port: service.port }, `connection-service (gRPC) listening on localhost:${service.port}`);
  return { shutdownSteps: [{ name: 'connection-service', run: () => service.stop() }], shutdownTimeoutMs: config.DRAIN_TIMEOUT_MS + 10_000 };
});
