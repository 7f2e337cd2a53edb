import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from './logger';
import { redactUrl } from './logger';
import { retry } from './backoff';
import { timestamptzParser } from './pg-timestamptz';

export type { Knex };

const INT8: number = pg.types.builtins.INT8;
const TIMESTAMPTZ: number = pg.types.builtins.TIMESTAMPTZ;
const parseInt8 = (v: string) => Number.parseInt(v, 10);
const parseTimestamptz = timestamptzParser(pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => unknown);

/**
 * The type parsers of every connection a pool of ours makes, given per connection (pg's `types`
 * option) rather than installed globally, so importing this package changes nothing: int8
 * (bigserial ids, counts) as JS numbers (ids stay far below 2^53); timestamptz through a fast path
 * for the ISO text the server prints, the usual parser for the rest. Everything else as pg has it.
 */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (format !== 'binary' && oid === INT8) return parseInt8;
    if (format !== 'binary' && oid === TIMESTAMPTZ) return parseTimestamptz;
    return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
  },
};

export interface DatabaseOptions {
  url: string;
  logger: Logger;
  poolMax?: number;
  /** How long a query waits for a free connection before failing (→ 503), ms. */
  acquireTimeoutMs?: number;
  statementTimeoutMs?: number;
  applicationName?: string;
  /**
   * Planner settings for every connection of this pool (`SET name = value` once, when the
   * connection is made), for a service whose queries all want them.
   */
  sessionSettings?: Record<string, string | number>;
}

/** `SET a = 'x'; SET b = '1.1'` for sessionSettings; names are checked, values quoted. */
export function sessionSettingsSql(settings: Record<string, string | number>): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!/^[a-z_]+$/.test(name)) throw new Error(`not a setting name: ${name}`);
      return `SET ${name} = '${String(value).replace(/'/g, "''")}'`;
    })
    .join('; ');
}

export interface Database {
  knex: Knex;
  /** One cheap round trip; false while the server is unreachable. */
  isReady(): Promise<boolean>;
  /** Start-up: retries with jittered backoff until the server answers or the deadline passes. */
  waitUntilReady(deadlineMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function createDatabase(opts: DatabaseOptions): Database {
  const { logger } = opts;
  const knex = knexFactory({
    client: 'pg',
    connection: {
      connectionString: opts.url,
      connectionTimeoutMillis: 2_000,
      statement_timeout: opts.statementTimeoutMs ?? 15_000,
      types: PG_TYPES,
      application_name: opts.applicationName ?? (logger.bindings().service as string | undefined) ?? 'udaconnect',
    },
    pool: {
      min: 0,
      max: opts.poolMax ?? 10,
      // A pooled connection whose server went away emits 'error' while idle; without a
      // listener that would crash the process. Knex then discards the connection.
      afterCreate: (conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) => {
        conn.on('error', (err) => logger.warn({ err: err.message }, 'database connection lost'));
        if (!opts.sessionSettings) return done(null, conn);
        conn.query(sessionSettingsSql(opts.sessionSettings)).then(
          () => done(null, conn),
          (err: Error) => done(err, conn),
        );
      },
    },
    acquireConnectionTimeout: opts.acquireTimeoutMs ?? 3_000,
    log: {
      warn: (message: unknown) => logger.warn({ knex: String(message) }, 'knex warning'),
      error: (message: unknown) => logger.error({ knex: String(message) }, 'knex error'),
      deprecate: (message: unknown) => logger.debug({ knex: String(message) }, 'knex deprecation'),
      debug: (message: unknown) => logger.debug({ knex: message }, 'knex debug'),
    },
  });

  const isReady = async () => {
    try {
      await knex.raw('select 1');
      return true;
    } catch {
      return false;
    }
  };

  return {
    knex,
    isReady,
    async waitUntilReady(deadlineMs = 60_000) {
      await retry(() => knex.raw('select 1'), {
        deadlineMs,
        onRetry: (err, attempt, waitMs) =>
          logger.warn({ err: (err as Error).message, attempt, waitMs, db: redactUrl(opts.url) }, 'database not ready, retrying'),
      });
    },
    close: () => knex.destroy(),
  };
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300']);

/** True for errors that mean "the database is down or overloaded", not "the query was wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: string; name?: string; message?: string };
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (e.name === 'KnexTimeoutError') return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message ?? '');
}

/** One connection of the pool, as withOneConnection hands it to its work. */
export interface OneConnection {
  /**
   * Raw SQL on this connection: session state (an advisory lock, settings) stays with it. With
   * `name`, a named prepared statement: parsed once per connection, then only bound and executed
   * (the name must be unique to the text: node-postgres refuses a name reused for another text).
   */
  query<R>(sql: string, bindings: readonly Knex.RawBinding[], opts?: { name?: string | undefined }): Promise<R>;
  /** Cancels what the connection runs now (pg_cancel_backend, from a connection of its own). */
  cancel(): Promise<unknown>;
  /** Closes the connection (the pool then drops it): for a session whose state cannot be undone. */
  end(): Promise<void>;
}

/** knex's pool methods (knex types its client `any`). */
interface KnexPool {
  acquireConnection(): Promise<{ end(): Promise<void> }>;
  releaseConnection(connection: unknown): Promise<unknown>;
  cancelQuery(connection: unknown): Promise<unknown>;
}

/** Takes one connection from the pool for `work`, and gives it back when `work` settles. */
export async function withOneConnection<T>(knex: Knex, work: (c: OneConnection) => Promise<T>): Promise<T> {
  const pool = knex.client as KnexPool;
  const conn = await pool.acquireConnection();
  try {
    return await work({
      query: <R>(sql: string, bindings: readonly Knex.RawBinding[], opts?: { name?: string | undefined }) => {
        const raw = knex.raw<R>(sql, bindings as Knex.RawBinding[]);
        // knex hands a query's options to node-postgres as they are: { name } makes it a prepared statement.
        return (opts?.name ? raw.options({ name: opts.name }) : raw).connection(conn) as unknown as Promise<R>;
      },
      cancel: () => pool.cancelQuery(conn),
      end: () => conn.end(),
    });
  } finally {
    await pool.releaseConnection(conn);
  }
}
