import { runService } from '@udaconnect/common';
import { frontendConfigSchema } from './config';
import { startFrontendServer } from './frontend-server';

runService('frontend', frontendConfigSchema, (config, logger) => startFrontendServer(config, logger));
