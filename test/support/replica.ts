/**
 * The local streaming replica (scripts/pg-replica.sh, PostgreSQL `15 replica`) for tests and the
 * replica-lag benchmark: make sure it runs, address a database on it, and measure how long a row
 * written on the primary takes to be readable there.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';

const ROOT = join(__dirname, '..', '..');

/**
 * `bash scripts/pg-replica.sh ensure`: creates the replica if missing, starts it and waits until it
 * follows the primary (a few seconds warm; a fresh clone of the primary takes longer). Its port.
 */
export async function ensureReplica(timeoutMs = 150_000): Promise<{ port: number }> {
  try {
    await promisify(execFile)('bash', [join(ROOT, 'scripts', 'pg-replica.sh'), 'ensure'], { cwd: ROOT, timeout: timeoutMs });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`bash scripts/pg-replica.sh ensure failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const env = readFileSync(join(ROOT, '.udaconnect', 'replica.env'), 'utf8');
  const port = Number(/^PG_REPLICA_PORT=(\d+)$/m.exec(env)?.[1]);
  if (!port) throw new Error('.udaconnect/replica.env names no PG_REPLICA_PORT');
  return { port };
}

/** The same URL on another port of the same host (the replica runs next to the primary). */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

export interface LagOptions {
  /** Rows to write, one at a time. */
  samples: number;
  /** Whose pings they are (an existing person of the database). */
  personId: number;
  /** Pause between one row being seen and the next write. */
  gapMs?: number;
  /** A row not readable on the replica by then fails the measurement. */
  timeoutMs?: number;
}

export interface LagMeasurement {
  /** Per ping, ms from the primary's acknowledgement to the first replica read that returned it. */
  lags: number[];
  /** Pings the very first read already returned (their lag is at most one read's round trip). */
  seenAtFirstRead: number;
  /** Every read of the replica, ms: the measurement's resolution. */
  reads: number[];
}

/**
 * Writes `samples` pings on the primary, one at a time (each its own transaction, committed when the
 * INSERT returns), and reads the replica for each until a query there returns it: how much older
 * than the primary a read from the replica can be. Resolution: one read's round trip.
 */
export async function measureReplicaLag(primary: Knex, replica: Knex, opts: LagOptions): Promise<LagMeasurement> {
  const { samples, personId, gapMs = 5, timeoutMs = 10_000 } = opts;
  const result: LagMeasurement = { lags: [], seenAtFirstRead: 0, reads: [] };
  for (let i = 0; i < samples; i++) {
    const { rows } = await primary.raw<{ rows: Array<{ id: number | string }> }>(
      `INSERT INTO location (person_id, coordinate, creation_time, event_id)
       VALUES (?::int, ST_SetSRID(ST_MakePoint(?::float8, ?::float8), 4326)::geography, now(), gen_random_uuid())
       RETURNING id`,
      [personId, -150 + (i % 100) * 1e-4, -60],
    );
    const acknowledged = performance.now();
    const id = rows[0]!.id;
    for (let read = 1; ; read++) {
      const started = performance.now();
      const seen = await replica.raw<{ rows: unknown[] }>('SELECT 1 FROM location WHERE id = ?::bigint', [id]);
      const now = performance.now();
      result.reads.push(now - started);
      if (seen.rows.length > 0) {
        result.lags.push(now - acknowledged);
        if (read === 1) result.seenAtFirstRead++;
        break;
      }
      if (now - acknowledged > timeoutMs) throw new Error(`ping ${id}, written on the primary, was not readable on the replica after ${timeoutMs} ms`);
    }
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  return result;
}

/** p50, p99, max and mean of the lags, in ms (nearest-rank percentiles). */
export function lagSummary(lags: readonly number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const sorted = [...lags].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { n: sorted.length, p50: rank(50), p99: rank(99), max: sorted[sorted.length - 1]!, mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}
