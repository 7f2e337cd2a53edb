/**
 * Retention: pings whose creation_time is older than RETENTION_DAYS are deleted every
 * RETENTION_INTERVAL_MINUTES (the first run RETENTION_FIRST_RUN_DELAY_MS after start): first the
 * day partitions (migration 0009) whose every row is older, dropped whole, then the older rows
 * left elsewhere, at most RETENTION_BATCH_ROWS per statement. Every writer replica schedules runs;
 * a session-level advisory lock lets one run at a time, the others skip theirs. A run that fails
 * (the database down included) is logged and counted, and the next interval tries again: the
 * writer never stops for it.
 */
import { performance } from 'node:perf_hooks';
import { periodicRuns, withOneConnection, type Knex, type Logger } from '@udaconnect/common';
import type { RetentionMetrics } from './metrics';

/** Key of the advisory lock a run holds, the same in every replica. */
export const RETENTION_LOCK_KEY = 4_207_315_001;

export interface RetentionSettings {
  /** Pings older than this many days (> 0) are deleted. */
  days: number;
  /** Rows per DELETE statement. */
  batchRows: number;
}

export type DeleteResult = { locked: false } | { locked: true; deleted: number; cutoff: Date; stopped: boolean; droppedPartitions: string[] };

/**
 * One run, on one pooled connection (the lock belongs to its session): takes the lock or gives up
 * at once, asks the database for the cutoff (now() - days, to the millisecond, fixed for the run),
 * drops the partitions whose upper bound is at or before the cutoff (the migration's SECURITY
 * DEFINER function: the writer's role does not own the table; it returns the rows each held), then
 * deletes up to batchRows older rows per statement, each committed on its own, until a statement
 * deletes fewer or `stopping()` says so between statements. `onBatch` is told (and awaited with)
 * the dropped partitions' rows, if any were dropped, and each DELETE's count. What the DELETE still
 * finds is in the partitions below the cutoff that were not dropped: the legacy and default ones
 * and the day that straddles the cutoff; `creation_time < cutoff` on both sides leaves the others
 * out of the plan. The subquery finds a backlog through the BRIN index on creation_time
 * (migration 0005, on every partition); when few rows are old the planner may prefer the GiST
 * (coordinate, creation_time) index. The DELETE reaches the rows by primary key.
 */
export async function deleteExpiredPings(
  knex: Knex,
  settings: RetentionSettings,
  opts: { stopping?: () => boolean; onBatch?: (deleted: number) => void | Promise<void> } = {},
): Promise<DeleteResult> {
  if (!(settings.days > 0)) throw new Error(`retention days must be > 0, got ${settings.days}`);
  return withOneConnection(knex, async (conn) => {
    const query = <T>(sql: string, bindings: readonly Knex.RawBinding[]) => conn.query<{ rows: T[]; rowCount: number | null }>(sql, bindings);
    let locked = false;
    try {
      const { rows } = await query<{ locked: boolean }>('SELECT pg_try_advisory_lock(?::bigint) AS locked', [RETENTION_LOCK_KEY]);
      locked = rows[0]?.locked === true;
      if (!locked) return { locked: false };
      const { rows: at } = await query<{ cutoff: Date }>(`SELECT date_trunc('milliseconds', now() - make_interval(days => ?::int)) AS cutoff`, [settings.days]);
      const cutoff = at[0]!.cutoff;
      const { rows: dropped } = await query<{ partition_name: string; deleted_rows: number }>(
        'SELECT partition_name, deleted_rows FROM location_drop_partitions_before(?::timestamptz)',
        [cutoff],
      );
      const droppedPartitions = dropped.map((d) => d.partition_name);
      let deleted = dropped.reduce((n, d) => n + Number(d.deleted_rows), 0);
      if (dropped.length > 0) await opts.onBatch?.(deleted);
      for (;;) {
        const { rowCount } = await query(
          `DELETE FROM location
            WHERE creation_time < ?::timestamptz
              AND (id, creation_time) IN (SELECT id, creation_time FROM location WHERE creation_time < ?::timestamptz LIMIT ?::int)`,
          [cutoff, cutoff, settings.batchRows],
        );
        const n = rowCount ?? 0;
        deleted += n;
        await opts.onBatch?.(n);
        if (n < settings.batchRows) return { locked: true, deleted, cutoff, stopped: false, droppedPartitions };
        if (opts.stopping?.()) return { locked: true, deleted, cutoff, stopped: true, droppedPartitions };
      }
    } finally {
      if (locked) {
        // A session that cannot unlock is closed: that releases the lock, and the pool drops it.
        await query('SELECT pg_advisory_unlock(?::bigint)', [RETENTION_LOCK_KEY]).catch(() => conn.end().catch(() => undefined));
      }
    }
  });
}

type RetentionRun =
  | { outcome: 'off' }
  | { outcome: 'skipped'; ms: number }
  | { outcome: 'completed'; deleted: number; cutoff: Date; ms: number; stopped: boolean; droppedPartitions: string[] }
  | { outcome: 'failed'; deleted: number; ms: number; error: Error };

export interface Retention {
  /** Runs now, or joins the run in progress; never rejects. The timer calls it too. */
  runOnce(): Promise<RetentionRun>;
  /** Clears the timer; a run in progress ends after its current statement, and is awaited. */
  stop(): Promise<void>;
}

export interface RetentionOptions extends RetentionSettings {
  knex: Knex;
  metrics: RetentionMetrics;
  logger: Logger;
  intervalMs: number;
  firstRunDelayMs: number;
}

/**
 * Schedules the runs (none when days is 0). Each run logs one line: "retention run" with
 * {deleted, cutoff, ms}, and droppedPartitions when it dropped some.
 */
export function startRetention(opts: RetentionOptions): Retention {
  const { knex, metrics } = opts;
  const logger = opts.logger.child({ component: 'retention' });
  if (opts.days === 0) {
    logger.info('retention off (RETENTION_DAYS=0): pings are kept forever');
    return { runOnce: () => Promise.resolve({ outcome: 'off' }), stop: () => Promise.resolve() };
  }

  const run = async (): Promise<RetentionRun> => {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    let deleted = 0;
    try {
      const result = await deleteExpiredPings(knex, opts, {
        stopping: () => runs.stopping(),
        onBatch: (n) => {
          deleted += n;
          metrics.rowsDeleted(n);
        },
      });
      if (!result.locked) {
        metrics.run('skipped', ms() / 1000);
        logger.info({ ms: ms() }, 'retention run skipped: another writer holds the lock');
        return { outcome: 'skipped', ms: ms() };
      }
      const done = { deleted: result.deleted, cutoff: result.cutoff, ms: ms(), stopped: result.stopped, droppedPartitions: result.droppedPartitions };
      metrics.run('completed', done.ms / 1000);
      logger.info(
        {
          deleted: done.deleted,
          cutoff: done.cutoff.toISOString(),
          ms: done.ms,
          ...(done.droppedPartitions.length > 0 ? { droppedPartitions: done.droppedPartitions } : {}),
          ...(done.stopped ? { stopped: true } : {}),
        },
        'retention run',
      );
      return { outcome: 'completed', ...done };
    } catch (err) {
      metrics.run('failed', ms() / 1000);
      logger.warn({ err, deleted, ms: ms(), retryInMs: opts.intervalMs }, 'retention run failed; retrying at the next interval');
      return { outcome: 'failed', deleted, ms: ms(), error: err as Error };
    }
  };

  const runs = periodicRuns(run, { intervalMs: opts.intervalMs, firstDelayMs: opts.firstRunDelayMs });
  logger.info(
    { days: opts.days, intervalMs: opts.intervalMs, firstRunInMs: opts.firstRunDelayMs, batchRows: opts.batchRows },
    'retention on: pings older than RETENTION_DAYS are deleted periodically',
  );

  return runs;
}
