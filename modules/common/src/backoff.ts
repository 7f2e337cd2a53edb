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
