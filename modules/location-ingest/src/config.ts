import { z } from 'zod';
import { env, LOCATIONS_TOPIC } from '@udaconnect/common';

export const ingestConfigSchema = z.object({
  PORT: env.port(30002),
  DATABASE_URL: env.databaseUrl(),
  KAFKA_BROKERS: env.kafkaBrokers(),
  LOG_LEVEL: env.logLevel(),
  LOCATIONS_TOPIC: z.string().min(1).default(LOCATIONS_TOPIC),
  LOCATIONS_PARTITIONS: env.positiveInt(6),
  /** A Kafka send leaves at this many pings… */
  PUBLISH_MAX_BATCH: env.positiveInt(1000),
  /** …or this long after the first queued ping. */
  PUBLISH_LINGER_MS: env.positiveInt(5),
  /** How often Kafka reachability is checked for the gRPC health status. */
  KAFKA_HEALTH_INTERVAL_MS: env.positiveInt(5000),
  /** How long SIGTERM waits for in-flight streams. */
  DRAIN_TIMEOUT_MS: env.positiveInt(15000),
});

export type IngestConfig = z.infer<typeof ingestConfigSchema>;
