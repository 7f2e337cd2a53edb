/** Background jobs (the writer's retention and presence, connection-service's directory): one run at a time, the next an interval after the last ended. */

export interface PeriodicRuns<T> {
  /** Runs now, or joins the run in progress. */
  runOnce: () => Promise<T>;
  /** True once stop() was called: a long run checks it to end early. */
  stopping: () => boolean;
  /** Clears the timer; a run in progress finishes, and is awaited. */
  stop: () => Promise<void>;
}

/** Starts `run` after `firstDelayMs`, then `intervalMs` after each run ends. `run` must not reject. */
export function periodicRuns<T>(run: () => Promise<T>, opts: { intervalMs: number; firstDelayMs: number }): PeriodicRuns<T> {
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<T> | undefined;
  const runOnce = () => (running ??= run().finally(() => (running = undefined)));
  const schedule = (delayMs: number) => {
    if (stopping) return;
    timer = setTimeout(() => void runOnce().then(() => schedule(opts.intervalMs)), delayMs);
    timer.unref();
  };
  schedule(opts.firstDelayMs);
  return {
    runOnce,
    stopping: () => stopping,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
    },
  };
}
