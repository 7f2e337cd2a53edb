/**
 * The open Meetings/Watch streams of this process, by person. A stream that cannot keep up (its
 * HTTP/2 window full) gets at most `bufferMax` messages queued; beyond that its oldest are dropped
 * and counted. 1,024 (about 100 kB a stream): a person walking into a full talk room meets dozens of
 * people within one Kafka batch, all written before the stream can drain; 64 dropped most of them in
 * `npm run bench:meetings`. Streams end with OK when the server shuts down, and with UNAUTHENTICATED when their
 * token expires or is revoked (checked every few seconds).
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger, Principal } from '@udaconnect/common';
import type { Meeting, WatchRequest } from '@udaconnect/proto';

export type WatchCall = ServerWritableStream<WatchRequest, Meeting>;

interface Watcher {
  personId: number;
  principal: Principal;
  call: WatchCall;
  /** Messages waiting for the stream to drain, oldest first, with when their ping reached Kafka. */
  queue: Array<{ meeting: Meeting; origin: number }>;
  waiting: boolean;
}

export interface WatcherEvents {
  /** A message was written to a stream (not merely queued); `origin` is what send() was given. */
  sent?(meeting: Meeting, origin: number): void;
  /** The oldest queued message of a slow stream was dropped. */
  dropped?(): void;
  /** The number of open streams changed. */
  count?(open: number): void;
}

export class WatcherRegistry {
  private readonly byPerson = new Map<number, Set<Watcher>>();
  private open = 0;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly events: WatcherEvents = {},
    private readonly bufferMax = 1024,
  ) {}

  get size(): number {
    return this.open;
  }

  has(personId: number): boolean {
    return this.byPerson.has(personId);
  }

  /** Streams open for `personId` by this token subject. */
  countFor(personId: number, subject: string): number {
    let n = 0;
    for (const w of this.byPerson.get(personId) ?? []) if (w.principal.subject === subject) n++;
    return n;
  }

  /** Registers `call` until it is cancelled or ended. */
  add(personId: number, principal: Principal, call: WatchCall): void {
    const watcher: Watcher = { personId, principal, call, queue: [], waiting: false };
    const set = this.byPerson.get(personId) ?? new Set<Watcher>();
    set.add(watcher);
    this.byPerson.set(personId, set);
    this.open++;
    this.events.count?.(this.open);
    const remove = () => this.remove(watcher);
    call.on('cancelled', remove);
    call.on('finish', remove);
    call.on('close', remove);
    call.on('drain', () => {
      watcher.waiting = false;
      this.flush(watcher);
    });
  }

  /**
   * Writes `meeting` to every stream of `personId`; returns how many streams got it (written or
   * queued). `origin` (ms) is handed back to events.sent, for the delay metric.
   */
  send(personId: number, meeting: Meeting, origin: number): number {
    const set = this.byPerson.get(personId);
    if (!set) return 0;
    for (const w of set) {
      w.queue.push({ meeting, origin });
      if (w.queue.length > this.bufferMax) {
        w.queue.shift();
        this.events.dropped?.();
      }
      this.flush(w);
    }
    return set.size;
  }

  /** Ends every stream whose token has expired or been revoked since it was opened. */
  sweep(isRevoked: (tokenId: string) => boolean, now = Date.now()): void {
    for (const set of this.byPerson.values()) {
      for (const w of [...set]) {
        let revoked = false;
        try {
          revoked = isRevoked(w.principal.tokenId);
        } catch {
          // The list cannot be read yet: the stream keeps its status until it can.
        }
        if (revoked || w.principal.expiresAt.getTime() <= now) {
          this.end(w, { code: status.UNAUTHENTICATED, details: revoked ? 'the token was revoked' : 'the token expired; call again with a new one' });
        }
      }
    }
  }

  /** sweep() every `intervalMs` until closeAll(). */
  startSweeping(isRevoked: (tokenId: string) => boolean, intervalMs: number): void {
    this.sweepTimer = setInterval(() => this.sweep(isRevoked), intervalMs);
    this.sweepTimer.unref();
  }

  /** Ends every stream with OK (the server is shutting down: clients call again, on another replica). */
  closeAll(): void {
    clearInterval(this.sweepTimer);
    for (const set of [...this.byPerson.values()]) for (const w of [...set]) this.end(w);
  }

  private flush(w: Watcher): void {
    while (w.queue.length > 0 && !w.waiting) {
      if (w.call.cancelled || w.call.writableEnded) {
        w.queue.length = 0;
        return;
      }
      const { meeting, origin } = w.queue.shift()!;
      // false: the stream's buffer is full; the rest waits for 'drain'.
      w.waiting = !w.call.write(meeting);
      this.events.sent?.(meeting, origin);
    }
  }

  private end(w: Watcher, error?: { code: status; details: string }): void {
    this.remove(w);
    if (w.call.writableEnded || w.call.cancelled) return;
    if (error) w.call.emit('error', error);
    else w.call.end();
  }

  private remove(w: Watcher): void {
    const set = this.byPerson.get(w.personId);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.byPerson.delete(w.personId);
    this.open--;
    this.events.count?.(this.open);
    this.logger.debug({ personId: w.personId }, 'meeting stream closed');
  }
}
