import { z } from 'zod';
import { env, tracingConfigShape } from '@udaconnect/common';
import { LOCATIONS_DLQ_TOPIC, LOCATIONS_TOPIC } from '@udaconnect/domain';

// Kafka's own rule for topic and group names.
const kafkaName = (fallback: string) =>
  z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be 1–249 characters of letters, digits, ".", "_" or "-"')
    .default(fallback);

export const locationWriterConfigSchema = z.object({
  /** Port of the /healthz, /readyz and /metrics server. */
  PORT: env.port(30004),
  /**
   * Address that server binds to. Operator endpoints stay on the loopback interface unless an
   * operator opens them (K3s sets 0.0.0.0 for kubelet probes, behind a ClusterIP Service only).
   */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: env.databaseUrl(),
  KAFKA_BROKERS: env.kafkaBrokers(),
  LOG_LEVEL: env.logLevel(),
  ...tracingConfigShape,
  KAFKA_GROUP_ID: kafkaName('location-writer'),
  LOCATIONS_TOPIC: kafkaName(LOCATIONS_TOPIC),
  LOCATIONS_DLQ_TOPIC: kafkaName(LOCATIONS_DLQ_TOPIC),
  /** Partitions of the topics when this service creates them (existing topics are left as they are). */
  LOCATIONS_PARTITIONS: env.positiveInt(6),
  DB_POOL_MAX: env.positiveInt(5),
  /** Retention (retention.ts): pings whose creation_time is older than this many days are deleted; 0 keeps them forever. */
  RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(30),
  /** Minutes between retention runs (at most a week). */
  RETENTION_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(10_080).default(60),
  /** Wait after start before the first run (at most a day). */
  RETENTION_FIRST_RUN_DELAY_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  /** Rows deleted per statement, so that no statement holds its row locks long or writes much WAL. */
  RETENTION_BATCH_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
});

export type LocationWriterConfig = z.infer<typeof locationWriterConfigSchema>;
