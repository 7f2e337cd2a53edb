/**
 * Per-caller concurrency: at most `limit` operations at once for each key (a token's subject, a
 * client's IP). Memory is one map entry per key with something running; a key is forgotten as
 * soon as its last operation ends.
 */
export interface KeyedConcurrency {
  /** A release function (idempotent), or undefined when `key` already runs `limit` operations. */
  tryAcquire(key: string, limit?: number): (() => void) | undefined;
  /** Operations `key` runs now. */
  running(key: string): number;
}

export function keyedConcurrency(defaultLimit: number): KeyedConcurrency {
  const running = new Map<string, number>();
  return {
    tryAcquire(key, limit = defaultLimit) {
      const n = running.get(key) ?? 0;
      if (n >= limit) return undefined;
      running.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (running.get(key) ?? 1) - 1;
        if (left <= 0) running.delete(key);
        else running.set(key, left);
      };
    },
    running: (key) => running.get(key) ?? 0,
  };
}
