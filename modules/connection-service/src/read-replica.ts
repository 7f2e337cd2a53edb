/**
 * Is the read replica (DATABASE_READ_URL) fit to answer? It must answer, and must have replayed the
 * WAL the primary had written `maxLagMs` ago: a replica that lost its primary, or fell far behind,
 * keeps answering with ever older rows, which only this comparison notices. Each check samples the
 * primary's WAL position (pg_current_wal_lsn) and compares the replica's replay position with the
 * newest sample at least `maxLagMs` old, so checks every `intervalMs` let an answer be at most about
 * maxLagMs + intervalMs old while the service is SERVING. An idle primary writes nothing, so a
 * replica that has replayed everything is fresh however long ago the last write was.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Knex, Logger } from '@udaconnect/common';

/** "16/B374D848" → its position as a number of bytes. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (!m) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

export interface ReplicaFreshness {
  /** One check (never throws): the replica answers and is at most about maxLagMs behind. */
  check(): Promise<boolean>;
}

export function replicaFreshness(opts: {
  primary: Knex;
  replica: Knex;
  maxLagMs: number;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}): ReplicaFreshness {
  const { primary, replica, maxLagMs, logger, now = Date.now } = opts;
  const behindBytes = opts.registry
    ? new Gauge({
        name: 'udaconnect_read_replica_behind_bytes',
        help: "Bytes of WAL the read replica had not replayed at the last check, behind the primary's position then (-1: it did not answer).",
        registers: [opts.registry],
      })
    : undefined;
  /** The primary's WAL positions, oldest first: the newest one at least maxLagMs old and all later ones. */
  let samples: Array<{ at: number; lsn: bigint }> = [];
  let lastFresh: boolean | undefined;

  const report = (fresh: boolean, details: Record<string, unknown>) => {
    if (fresh !== lastFresh) {
      if (fresh) logger.info(details, 'read replica answering and up to date');
      else logger.warn({ ...details, maxLagMs }, 'read replica unusable: not answering, or behind the primary by more than DATABASE_READ_MAX_LAG_MS');
    }
    lastFresh = fresh;
    return fresh;
  };

  return {
    async check() {
      let at: number;
      try {
        const { rows } = await primary.raw<{ rows: Array<{ lsn: string }> }>('SELECT pg_current_wal_lsn()::text AS lsn');
        // Timed when it is stored, so the samples stay in time order when checks overlap (health and /readyz).
        at = now();
        samples.push({ at, lsn: parseLsn(rows[0]!.lsn) });
      } catch {
        // The primary's own health says so; the replica is judged on the samples already taken.
        at = now();
      }
      let due: { at: number; lsn: bigint } | undefined;
      for (const s of samples) if (s.at <= at - maxLagMs) due = s;
      if (due) samples = samples.slice(samples.indexOf(due));
      let replayed: { standby: boolean; lsn: string | null };
      try {
        const { rows } = await replica.raw<{ rows: Array<{ standby: boolean; lsn: string | null }> }>(
          'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn',
        );
        replayed = rows[0]!;
      } catch (err) {
        behindBytes?.set(-1);
        return report(false, { err: (err as Error).message });
      }
      // Not a standby (DATABASE_READ_URL names a primary, e.g. a promoted replica): nothing to lag behind.
      if (!replayed.standby) {
        behindBytes?.set(0);
        return report(true, { standby: false });
      }
      const position = replayed.lsn === null ? 0n : parseLsn(replayed.lsn);
      const newest = samples[samples.length - 1];
      const behind = newest && newest.lsn > position ? Number(newest.lsn - position) : 0;
      behindBytes?.set(behind);
      // In the first maxLagMs after start there is nothing old enough to compare with: it answers.
      return report(!due || position >= due.lsn, { replayedLsn: replayed.lsn, behindBytes: behind });
    },
  };
}
