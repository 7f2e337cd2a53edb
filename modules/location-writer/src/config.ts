import { z } from 'zod';
import { env, kafkaTopicsConfigShape, tracingConfigShape } from '@udaconnect/common';
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
  ...kafkaTopicsConfigShape,
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
  /**
   * Time partitions (partitions.ts): the day partitions of `location` for today and this many UTC
   * days after (at least 1: a ping may be 5 minutes in the future) are made ahead, at start and hourly.
   */
  LOCATION_PARTITION_DAYS_AHEAD: z.coerce.number().int().min(1).max(365).default(7),
  /** Presence (presence.ts): milliseconds between runs of the worker that derives visits and attendance; 0 turns it off. */
  PRESENCE_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(1_000),
  /** Persons whose presence one run recomputes, at most (the rest wait for the next run). */
  PRESENCE_PERSONS_PER_RUN: z.coerce.number().int().min(1).max(100_000).default(2_000),
  /** A visit: consecutive pings inside a place spanning at least this many seconds… */
  PRESENCE_MIN_VISIT_SECONDS: z.coerce.number().int().min(0).max(86_400).default(120),
  /** …no two of them further apart than this. */
  PRESENCE_MAX_GAP_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  /** Attendance: each ping covers the time until the person's next ping, at most this many seconds. */
  PRESENCE_MAX_COVER_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
});

export type LocationWriterConfig = z.infer<typeof locationWriterConfigSchema>;
