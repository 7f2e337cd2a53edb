import { z } from 'zod';

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment with a zod object schema whose keys are variable names.
 * Every missing or bad variable is reported at once, by name.
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // An empty string means "not set": `FOO= npm start` should not count as a value.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const missing = issue.code === 'invalid_type' && cleaned[name] === undefined;
    return missing ? `${name} is required but not set` : `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** parseConfig for a process entry point: prints the problems and exits 1. */
export function loadConfigOrExit<S extends z.ZodObject>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(1);
  }
}

/** "90s", "15m", "12h", "30d" (or plain seconds) → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration like 90s, 15m, 12h or 30d`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = n * unit;
  if (!(seconds > 0)) throw new Error(`"${text}" must be longer than 0`);
  return seconds;
}

/** Reusable variable schemas, so every service spells them the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  databaseUrl: () => z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL'),
  kafkaBrokers: () =>
    z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1)),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  /** A file that must be named (its contents are read and checked at start-up). */
  file: () => z.string().min(1),
  /** How often the revoked-token list is re-read: at most a minute, so revocation takes effect within 60 s. */
  revocationPollMs: () => z.coerce.number().int().min(100).max(60_000, 'must be at most 60000 (revocation within a minute)').default(15_000),
  /** "90s", "15m", "12h", "30d" → seconds, at most `maxSeconds` (`maxText` names that limit). */
  duration: (maxSeconds: number, maxText: string) =>
    z
      .string()
      .max(16)
      .transform((text, ctx) => {
        try {
          return parseDuration(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .pipe(z.number().max(maxSeconds, `may be at most ${maxText}`)),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1')
      .default(fallback),
};

/**
 * The params of a check across variables (`schema.superRefine(check, crossVariableCheck)`, still a
 * z.ZodObject in zod 4): the check runs even when other variables are bad, so every problem is named
 * at once.
 */
export const crossVariableCheck = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null,
};

/** The settings every service that verifies tokens reads. */
export const authConfigShape = {
  /** JSON Web Key Set with the public keys tokens are verified with (at most two: current and previous). */
  AUTH_JWKS_FILE: env.file(),
  REVOCATION_POLL_MS: env.revocationPollMs(),
};

/**
 * How the topics a service creates are replicated (topics that already exist are left as they are):
 * 1 copy on the local single broker, 3 on a production cluster (overlays/production).
 */
export const kafkaTopicsConfigShape = {
  /** Copies of each partition, on as many brokers. */
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(7).default(1),
  /** Copies that must have a message before producers get their acknowledgement (acks=all). Unset: one less than KAFKA_REPLICATION_FACTOR, at least 1. */
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(7).optional(),
};

/**
 * The operator port (GET /metrics, /healthz), never the public one. It binds the loopback interface
 * unless an operator opens it. On K3s location-writer's manifest opens it (0.0.0.0, reachable in the
 * cluster, never by a NodePort) for its HTTP probes; the others keep loopback, which kubectl port-forward reaches.
 */
export const metricsConfigShape = (port: number) => ({
  METRICS_PORT: env.port(port),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
});

export const baseConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
});
