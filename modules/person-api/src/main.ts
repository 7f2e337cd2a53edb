import { runService } from '@udaconnect/common';
import { personApiConfigSchema } from './config';
import { startPersonApi } from './person-api';

runService('person-api', personApiConfigSchema, (config, logger) => startPersonApi(config, logger));
