import { createLogger, installShutdown, loadConfigOrExit } from '@udaconnect/common';
import { personApiConfigSchema } from './config';
import { startPersonApi } from './person-api';

async function main() {
  const config = loadConfigOrExit('person-api', personApiConfigSchema);
  const logger = createLogger('person-api', config.LOG_LEVEL);
  const api = await startPersonApi(config, logger);
  installShutdown(logger, api.shutdownSteps);
}

main().catch((err) => {
  process.stderr.write(`person-api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
