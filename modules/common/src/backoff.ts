/** Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt: number, baseMs = 200, capMs = 5_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(Math.random() * ceiling);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retries `fn` with jittered backoff until it succeeds or `deadlineMs` has passed,
 * then rethrows the last error. `onRetry` is told about each failure; an error for which
 * `retryIf` returns false is rethrown at once.
 */
export async function retry<T>(
  fn: () => Promise<T>,
  opts: {
    deadlineMs: number;
    baseMs?: number;
    capMs?: number;
    onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
    retryIf?: (err: unknown) => boolean;
  },
): Promise<T> {
  const end = Date.now() + opts.deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = backoffDelay(attempt, opts.baseMs, opts.capMs);
      if ((opts.retryIf && !opts.retryIf(err)) || Date.now() + wait > end) throw err;
      opts.onRetry?.(err, attempt, wait);
      await sleep(wait);
    }
  }
}

/** A dependency being connected in the background (see connectInBackground). */
export interface BackgroundConnection<T> {
  /** What connect() gave, once it has succeeded; undefined until then and after stop(). */
  current(): T | undefined;
  /** Resolves with the connection once made; with undefined if stop() came first. */
  readonly ready: Promise<T | undefined>;
  /** Stops trying. A connection that succeeds after this is handed to `discard`. */
  stop(): void;
}

/**
 * The start-up rule every service follows (docs/decisions.md, "Start without dependencies"):
 * never wait for a dependency before listening and never exit because one is down. `connect` is
 * tried at once and then with jittered backoff (capped at `capMs`) until it succeeds or stop()
 * is called; each failure is logged once per attempt with `whileDown`, which says what callers
 * see meanwhile.
 */
export function connectInBackground<T>(opts: {
  what: string;
  connect: () => Promise<T>;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  whileDown: string;
  /** Called with a connection made after stop(), to close it. */
  discard?: (connection: T) => Promise<void> | void;
  capMs?: number;
}): BackgroundConnection<T> {
  let stopped = false;
  let connection: T | undefined;
  let wakeUp: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => (clearTimeout(timer), resolve());
    });
  const ready = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      let made: T;
      try {
        made = await opts.connect();
      } catch (err) {
        if (stopped) break;
        const waitMs = backoffDelay(attempt, 200, opts.capMs ?? 10_000);
        opts.logger.warn({ err: (err as Error).message, attempt, waitMs }, `${opts.what} not reachable yet; ${opts.whileDown}`);
        await pause(waitMs);
        continue;
      }
      if (stopped) {
        await Promise.resolve(opts.discard?.(made)).catch(() => undefined);
        break;
      }
      connection = made;
      opts.logger.info({ attempts: attempt + 1 }, `${opts.what} connected`);
      return made;
    }
    return undefined;
  })();
  return {
    current: () => connection,
    ready,
    stop() {
      stopped = true;
      connection = undefined;
      wakeUp?.();
    },
  };
}
