import { z } from 'zod';
import { env } from '@udaconnect/common';

export const personApiConfigSchema = z.object({
  PORT: env.port(30001),
  DATABASE_URL: env.databaseUrl(),
  LOG_LEVEL: env.logLevel(),
  /** Largest accepted JSON body; bigger requests get 413. */
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 16kb').default('16kb'),
  DB_POOL_MAX: env.positiveInt(10),
});

export type PersonApiConfig = z.infer<typeof personApiConfigSchema>;
