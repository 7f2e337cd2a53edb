import { z } from 'zod';
import { authConfigShape, env, kafkaTopicsConfigShape, metricsConfigShape, tracingConfigShape } from '@udaconnect/common';
import { LOCATIONS_TOPIC } from '@udaconnect/domain';
import { tlsEnv, tlsFilesPaired, tlsFilesPairedParams } from '@udaconnect/common';

/** A count; 0 turns the limit off. */
const quota = (fallback: number) => z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(fallback);

export const ingestConfigSchema = z
  .object({
    PORT: env.port(30002),
    DATABASE_URL: env.databaseUrl(),
    KAFKA_BROKERS: env.kafkaBrokers(),
    ...kafkaTopicsConfigShape,
    LOG_LEVEL: env.logLevel(),
    ...tracingConfigShape,
    ...authConfigShape,
    /** GET /metrics and /healthz for Prometheus and operators: never the public port. */
    ...metricsConfigShape(30012),
    /**
     * TLS: a PEM certificate (chain) and its private key. Both set: PORT speaks gRPC over TLS only;
     * neither: plaintext (the local default). Only one of them is a configuration error.
     */
    TLS_CERT_FILE: tlsEnv.certFile(),
    TLS_KEY_FILE: tlsEnv.keyFile(),
    /**
     * Optional second port, always plaintext, serving only grpc.health.v1.Health (the same status
     * as PORT; no LocationIngest, no reflection). For Kubernetes `grpc:` probes, which cannot speak
     * TLS: with TLS on, point the probes here. Unset: no second port. 0 = any free port (tests).
     */
    HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
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
    /**
     * Quotas per token (docs/contract.md §7, "Ingest quotas"), Record and RecordStream together; 0 = no limit.
     * An attendee token (one device, a ping every few seconds): this many pings in each second…
     */
    INGEST_PINGS_PER_SECOND: quota(20),
    /** …plus a reserve of this many more, refilled every burst / rate seconds: a phone's backlog of 2¾ hours at one ping every 5 s. */
    INGEST_PING_BURST: quota(2_000),
    /** Pings one attendee RecordStream call may carry; the device splits longer uploads. */
    INGEST_MAX_PINGS_PER_STREAM: quota(10_000),
    /** The same for organizer and service tokens: the simulator, bulk imports and the benchmarks (≤ 40,000 pings/s on one token). */
    INGEST_ORGANIZER_PINGS_PER_SECOND: quota(100_000),
    INGEST_ORGANIZER_PING_BURST: quota(100_000),
    INGEST_ORGANIZER_MAX_PINGS_PER_STREAM: quota(1_000_000),
  })
  .superRefine(tlsFilesPaired, tlsFilesPairedParams);

export type IngestConfig = z.infer<typeof ingestConfigSchema>;
