import { z } from 'zod';
import { env, LOCATIONS_TOPIC } from '@udaconnect/common';

export const personApiConfigSchema = z.object({
  PORT: env.port(30001),
  DATABASE_URL: env.databaseUrl(),
  LOG_LEVEL: env.logLevel(),
  /** Largest accepted JSON body; bigger requests get 413. */
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 16kb').default('16kb'),
  DB_POOL_MAX: env.positiveInt(10),
  KAFKA_BROKERS: env.kafkaBrokers(),
  LOCATIONS_TOPIC: z.string().min(1).default(LOCATIONS_TOPIC),
  LOCATIONS_PARTITIONS: env.positiveInt(6),
  /** host:port of connection-service (gRPC). */
  CONNECTION_SERVICE_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port').default('localhost:30003'),
});

export type PersonApiConfig = z.infer<typeof personApiConfigSchema>;
