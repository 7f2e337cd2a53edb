import { z } from 'zod';
import { authConfigShape, crossVariableCheck, env, metricsConfigShape, tlsEnv, tlsFilesPaired, tracingConfigShape } from '@udaconnect/common';
import { LOCATIONS_TOPIC } from '@udaconnect/domain';

/** The variables; connectionConfigSchema adds the check that needs two of them. */
const connectionConfigShape = z.object({
  /** ConnectionService and Meetings, plaintext: for person-api inside the cluster (NetworkPolicy + bearer token). */
  PORT: env.port(30003),
  /**
   * The devices' port: Meetings/Watch alone (plus health and reflection), no FindConnections, so it can
   * face the outside (K3s: NodePort 30005). Unset: no second port. 0 = any free port (tests).
   */
  MEETINGS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * TLS for MEETINGS_PORT: a PEM certificate (chain) and its private key. Both set: MEETINGS_PORT speaks
   * gRPC over TLS only; neither: plaintext (the local default). PORT stays plaintext either way.
   */
  TLS_CERT_FILE: tlsEnv.certFile(),
  TLS_KEY_FILE: tlsEnv.keyFile(),
  DATABASE_URL: env.databaseUrl(),
  /**
   * A read-only streaming replica of DATABASE_URL's database (a hot standby), reached as the same
   * role. Set: FindConnections' queries (the cost estimate, the proximity query, the unknown-person
   * look-up) run on a second pool to it; the token revocation list, the live meetings' directory and
   * everything else stay on DATABASE_URL. Health and /readyz then need both: a replica that does not
   * answer, or lags more than DATABASE_READ_MAX_LAG_MS, makes the service NOT_SERVING (no fallback to
   * the primary; docs/decisions.md). Unset: everything on DATABASE_URL.
   */
  DATABASE_READ_URL: env.databaseUrl().optional(),
  /**
   * With DATABASE_READ_URL: the replica counts as down while it has not replayed what the primary had
   * written this long ago (checked every DB_HEALTH_INTERVAL_MS), which bounds how old an answer is.
   */
  DATABASE_READ_MAX_LAG_MS: env.positiveInt(10_000),
  LOG_LEVEL: env.logLevel(),
  ...tracingConfigShape,
  /** Calls need a bearer token (person-api forwards its caller's, or sends its own service token). */
  ...authConfigShape,
  /** GET /metrics and /healthz for Prometheus and operators: never the public port. */
  ...metricsConfigShape(30013),
  DB_POOL_MAX: env.positiveInt(10),
  /** A proximity query running longer than this is cancelled by PostgreSQL (→ DEADLINE_EXCEEDED). */
  STATEMENT_TIMEOUT_MS: env.positiveInt(10_000),
  /** FindConnections calls one caller (token subject) may have running at once; more → RESOURCE_EXHAUSTED. person-api's service token: DB_POOL_MAX. */
  MAX_CONCURRENT_QUERIES_PER_CALLER: env.positiveInt(2),
  /** Cost guard: a query whose estimated work (matching location pairs + own pings) is above this is refused (FAILED_PRECONDITION). */
  MAX_QUERY_PAIRS: env.positiveInt(500_000),
  /** Entries (connections, or people) an unpaged call may return; a larger answer is refused, asking for pages (FAILED_PRECONDITION). */
  MAX_UNPAGED_RESULTS: env.positiveInt(10_000),
  /** How often the database is checked for the gRPC health status. */
  DB_HEALTH_INTERVAL_MS: env.positiveInt(3_000),
  /** How long SIGTERM waits for in-flight calls. */
  DRAIN_TIMEOUT_MS: env.positiveInt(15_000),

  // Live meetings (Meetings/Watch): every replica reads every ping from Kafka.
  /** Where the pings are read from. Unset: live meetings are off (Watch answers UNIMPLEMENTED). */
  KAFKA_BROKERS: env.kafkaBrokers().optional(),
  LOCATIONS_TOPIC: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be 1–249 characters of letters, digits, ".", "_" or "-"')
    .default(LOCATIONS_TOPIC),
  /** false: live meetings are off even with KAFKA_BROKERS set. */
  MEETINGS_ENABLED: env.boolean(true),
  /** Two pings at most this many geodesic meters apart can make a meeting. */
  MEETING_DISTANCE_METERS: z.coerce.number().positive().max(1_000).default(5),
  /** … if they were recorded at most this many seconds apart. */
  MEETING_WINDOW_SECONDS: z.coerce.number().int().positive().max(3_600).default(60),
  /** A pair is told about one place once per this many minutes (decimals allowed: 0.5 is 30 s). */
  MEETING_COOLDOWN_MINUTES: z.coerce.number().positive().max(1_440).default(30),
  /**
   * How late a ping may arrive (behind newer ones already read) and still be compared; older ones are
   * neither kept nor compared. Memory holds MEETING_WINDOW_SECONDS + this of pings.
   */
  MEETING_LATE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  /** How often the places of current events and the persons who are not discoverable are re-read. */
  MEETING_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
});

/** The replica has the primary's roles: the read pool connects as the service's own, never another. */
function sameRoleOnTheReplica(value: { DATABASE_URL?: string; DATABASE_READ_URL?: string | undefined }, ctx: z.RefinementCtx): void {
  if (!value.DATABASE_URL || !value.DATABASE_READ_URL) return;
  const user = (url: string) => {
    try {
      return decodeURIComponent(new URL(url).username);
    } catch {
      return undefined;
    }
  };
  const primary = user(value.DATABASE_URL);
  const replica = user(value.DATABASE_READ_URL);
  if (primary !== replica) {
    ctx.addIssue({
      code: 'custom',
      path: ['DATABASE_READ_URL'],
      message: `must connect as DATABASE_URL's role (${primary || 'none given'}), not as ${replica || 'none given'}: the replica has the same roles`,
    });
  }
}

/** TLS is for MEETINGS_PORT only: a certificate without that port would be silently unused. */
function tlsNeedsMeetingsPort(value: { TLS_CERT_FILE?: string | undefined; MEETINGS_PORT?: number | undefined }, ctx: z.RefinementCtx): void {
  if (value.TLS_CERT_FILE && value.MEETINGS_PORT === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['MEETINGS_PORT'],
      message: "must be set with TLS_CERT_FILE: TLS is for the devices' Meetings port only (PORT stays plaintext)",
    });
  }
}

export const connectionConfigSchema = connectionConfigShape
  .superRefine(sameRoleOnTheReplica, crossVariableCheck)
  .superRefine(tlsFilesPaired, crossVariableCheck)
  .superRefine(tlsNeedsMeetingsPort, crossVariableCheck);

export type ConnectionConfig = z.infer<typeof connectionConfigSchema>;
