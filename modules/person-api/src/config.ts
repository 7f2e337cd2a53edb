import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { authConfigShape, env, kafkaTopicsConfigShape, metricsConfigShape, tracingConfigShape } from '@udaconnect/common';
import { LOCATIONS_TOPIC } from '@udaconnect/domain';
import { tlsEnv, tlsFilesPaired, tlsFilesPairedParams } from '@udaconnect/common';

const requestLimit = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** `true` is refused: trusting every hop lets any client choose the address it is counted as. */
const trustProxy = () =>
  z
    .string()
    .default('false')
    .transform((text, ctx): false | number | string[] => {
      if (text === 'false' || text === '0') return false;
      if (/^\d+$/.test(text)) return Number(text);
      const entries = text.split(',').map((e) => e.trim());
      const address = (e: string) => ipaddr.IPv4.isValidFourPartDecimal(e) || ipaddr.IPv6.isValid(e);
      const cidr = (e: string) => ipaddr.IPv4.isValidCIDRFourPartDecimal(e) || ipaddr.IPv6.isValidCIDR(e);
      const bad = entries.filter((e) => !['loopback', 'linklocal', 'uniquelocal'].includes(e) && !address(e) && !cidr(e));
      if (text === 'true' || bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: 'must be false, a number of hops, or proxy addresses or CIDRs (loopback, linklocal, uniquelocal), not true' });
        return z.NEVER;
      }
      return entries;
    });

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
    ...kafkaTopicsConfigShape,
    LOCATIONS_TOPIC: z.string().min(1).default(LOCATIONS_TOPIC),
    LOCATIONS_PARTITIONS: env.positiveInt(6),
    /** host:port of connection-service (gRPC). */
    CONNECTION_SERVICE_ADDRESS: z
      .string()
      .regex(/^[^:\s]+:\d+$/, 'must be host:port')
      .default('localhost:30003'),
    /**
     * The meeting rule counted by GET /api/persons/{id}/shared: pings within this many meters and
     * seconds, once per pair and place per cooldown. Keep them equal to connection-service's (the
     * live stream's): on K3s both read the same ConfigMap keys.
     */
    MEETING_DISTANCE_METERS: z.coerce.number().positive().max(1_000).default(5),
    MEETING_WINDOW_SECONDS: z.coerce.number().int().positive().max(3_600).default(60),
    MEETING_COOLDOWN_MINUTES: z.coerce.number().positive().max(1_440).default(30),
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
    /** The window the RATE_LIMIT_* counts are per (docs/contract.md §7, "REST quotas"). */
    RATE_LIMIT_WINDOW: env.duration(3600, '1h').default(60),
    /** Requests per window for one attendee (device) token; more → 429 with Retry-After. 0: no limit. */
    RATE_LIMIT_ATTENDEE: requestLimit(300),
    /** Requests per window for one organizer token (dashboards, import scripts). 0: no limit. */
    RATE_LIMIT_ORGANIZER: requestLimit(6000),
    /**
     * Requests per window from one client address (IPv6: its /64) without a valid token: docs, the
     * JWK set, legacy anonymous reads, and requests whose token is refused. Attendees behind one venue
     * NAT share it. 0: no limit.
     */
    RATE_LIMIT_ANONYMOUS: requestLimit(600),
    /**
     * Express's "trust proxy": false (the default: the client is the connection's peer), a number of
     * proxy hops, or comma-separated proxy addresses, CIDRs, loopback, linklocal or uniquelocal. Set it
     * only when a proxy that sets X-Forwarded-For stands in front; the client's address (the
     * per-IP limit's key) is then taken from that header.
     */
    TRUST_PROXY: trustProxy(),
  })
  .superRefine(tlsFilesPaired, tlsFilesPairedParams);

export type PersonApiConfig = z.infer<typeof personApiConfigSchema>;
