/**
 * Time partitions of `location` (migration 0009): one per UTC day, made ahead by every writer
 * replica for today and the next LOCATION_PARTITION_DAYS_AHEAD days, once when it starts (before it
 * consumes) and then hourly, so a day's partition exists long before its first ping. The writer's
 * role does not own the table, so it calls the migration's SECURITY DEFINER function, which makes
 * only the days no partition covers yet and takes an advisory lock: replicas calling it at once
 * take turns and make each day once. A ping of a day that has no partition yet (the writer was
 * down, a device's clock is off) goes to the default partition, and moves to its day's partition
 * when that is made. A run that fails (the database down included) is logged, and the next one
 * tries again: the writer never stops for it.
 */
import { performance } from 'node:perf_hooks';
import { periodicRuns, type Knex, type Logger } from '@udaconnect/common';

/** Between runs: with days made a week ahead, a missed run or a day of them loses nothing. */
const UPKEEP_INTERVAL_MS = 3_600_000;

interface MadePartition {
  /** location_pYYYYMMDD */
  partition: string;
  /** Rows of its day moved from the default partition. */
  moved: number;
}

/** Makes the partitions of the UTC days today .. today + daysAhead (by the database's clock) that do not exist yet; returns those it made. */
export async function ensurePartitions(knex: Knex, daysAhead: number): Promise<MadePartition[]> {
  const { rows } = await knex.raw<{ rows: Array<{ partition_name: string; moved_rows: number }> }>(
    `SELECT partition_name, moved_rows FROM location_ensure_partitions((now() AT TIME ZONE 'UTC')::date, ?::int)`,
    [daysAhead + 1],
  );
  return rows.map((r) => ({ partition: r.partition_name, moved: Number(r.moved_rows) }));
}

type UpkeepRun = { outcome: 'completed'; made: MadePartition[]; ms: number } | { outcome: 'failed'; ms: number; error: Error };

export interface PartitionUpkeep {
  /** Runs now, or joins the run in progress; never rejects. The timer calls it too. */
  runOnce(): Promise<UpkeepRun>;
  /** Clears the timer; a run in progress is awaited. */
  stop(): Promise<void>;
}

/** Schedules the runs; the first is the caller's (runOnce before consuming), the timer's an interval later. */
export function startPartitionUpkeep(opts: { knex: Knex; logger: Logger; daysAhead: number }): PartitionUpkeep {
  const logger = opts.logger.child({ component: 'partitions' });
  const run = async (): Promise<UpkeepRun> => {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const made = await ensurePartitions(opts.knex, opts.daysAhead);
      if (made.length > 0) logger.info({ made, ms: ms() }, 'location partitions made');
      else logger.debug({ ms: ms() }, 'location partitions: every day ahead exists');
      return { outcome: 'completed', made, ms: ms() };
    } catch (err) {
      logger.warn(
        { err, ms: ms(), retryInMs: UPKEEP_INTERVAL_MS },
        'location partitions not made; pings of days without one go to the default partition until the next run',
      );
      return { outcome: 'failed', ms: ms(), error: err as Error };
    }
  };
  const runs = periodicRuns(run, { intervalMs: UPKEEP_INTERVAL_MS, firstDelayMs: UPKEEP_INTERVAL_MS });
  logger.info(
    { daysAhead: opts.daysAhead, intervalMs: UPKEEP_INTERVAL_MS },
    'location partitions are made ahead: today and LOCATION_PARTITION_DAYS_AHEAD days after',
  );
  return runs;
}
