import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line (connection strings carry passwords). */
const REDACT = [
  'password',
  '*.password',
  'databaseUrl',
  '*.databaseUrl',
  'DATABASE_URL',
  '*.DATABASE_URL',
  'connectionString',
  '*.connectionString',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    prettyStream(),
  );
}

/**
 * JSON lines (pino's default, stdout) except for a person at a terminal: a service started by hand
 * on a TTY (`npx tsx modules/person-api/src/main.ts`), or LOG_FORMAT=pretty, prints readable
 * lines through pino-pretty. Never in the images (NODE_ENV=production, and pino-pretty, a
 * devDependency, is not installed there); `npm start`'s runner sets LOG_FORMAT=json for its
 * children and pretty-prints their lines itself (scripts/log-format.ts).
 */
function prettyStream(): pino.DestinationStream | undefined {
  const format = process.env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format !== 'pretty' || process.env.NODE_ENV === 'production') return undefined;
  try {
    // Loaded only here: it is absent where dependencies are installed without devDependencies.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pretty({
      colorize: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      singleLine: true,
      sync: true,
    });
  } catch {
    return undefined;
  }
}

/** Hides the password of a URL, for messages that must name the server. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
