import { z } from 'zod';
import { authConfigShape, env, metricsConfigShape, tracingConfigShape } from '@udaconnect/common';
import { LOCATIONS_TOPIC } from '@udaconnect/domain';
import { tlsEnv, tlsFilesPaired, tlsFilesPairedParams } from '@udaconnect/common';

export const personApiConfigSchema = z
  .object({
    PORT: env.port(30001),
    DATABASE_URL: env.databaseUrl(),
    LOG_LEVEL: env.logLevel(),
    ...tracingConfigShape,
    /**
     * TLS: a PEM certificate (chain) and its private key. Both set: the REST API serves HTTPS only;
     * neither: plain HTTP (the local default). Only one of them is a configuration error.
     */
    TLS_CERT_FILE: tlsEnv.certFile(),
    TLS_KEY_FILE: tlsEnv.keyFile(),
    /** Largest accepted JSON body; bigger requests get 413. */
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'must look like 16kb')
      .default('16kb'),
    DB_POOL_MAX: env.positiveInt(10),
    KAFKA_BROKERS: env.kafkaBrokers(),
    LOCATIONS_TOPIC: z.string().min(1).default(LOCATIONS_TOPIC),
    LOCATIONS_PARTITIONS: env.positiveInt(6),
    /** host:port of connection-service (gRPC). */
    CONNECTION_SERVICE_ADDRESS: z
      .string()
      .regex(/^[^:\s]+:\d+$/, 'must be host:port')
      .default('localhost:30003'),
    /** GET /api/persons/{id}/connection calls one caller (token subject, or IP when anonymous) may have running at once; more → 429. */
    CONNECTION_QUERIES_PER_CALLER: env.positiveInt(2),
    ...authConfigShape,
    /** GET /metrics and /healthz for Prometheus and operators: never the public port. */
    ...metricsConfigShape(30011),
    /** Private JWK that device tokens (and the service token for connection-service) are signed with. */
    AUTH_SIGNING_KEY_FILE: env.file(),
    /** Lifetime of a device token when POST /api/persons/{id}/devices names none. */
    DEVICE_TOKEN_TTL: env.duration(366 * 86_400, '366d').default(30 * 86_400),
    /** Comma-separated origins whose pages may call the API (CORS). */
    CORS_ORIGINS: z
      .string()
      .default('http://localhost:30000')
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin must look like http://host:port (no path, no trailing slash)'))),
    /**
     * Migration aid for the old page, which sends no token: anonymous GET of persons, a person and
     * connections. Off by default; a warning is logged at start-up when on.
     */
    LEGACY_ANONYMOUS_READS: env.boolean(false),
  })
  .superRefine(tlsFilesPaired, tlsFilesPairedParams);

export type PersonApiConfig = z.infer<typeof personApiConfigSchema>;
