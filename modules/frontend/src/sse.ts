/**
 * Server-Sent Events over fetch(). EventSource cannot send an Authorization header, so the page
 * reads `text/event-stream` from a fetch() body: SseParser turns the text into messages (the
 * WHATWG HTML "event stream interpretation"), followEventStream connects, reconnects with
 * backoff when the stream drops or goes quiet, and stops for good on answers that retrying cannot
 * change (401, 403, 404, other 4xx, not an event stream).
 */

export interface SseMessage {
  /** The `event:` field; "message" when the server named none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last `id:` seen so far in the stream ("" for none). */
  lastEventId: string;
}

/**
 * Incremental parser: feed() it decoded text in chunks of any size (a line, or even a CR LF pair,
 * may be split across chunks); it returns the messages each chunk completes. Comments (`: …`)
 * dispatch nothing but are counted in `comments`. A message not ended by a blank line when the
 * stream ends is dropped, as the standard says.
 */
export class SseParser {
  /** Text of the line being read. */
  private line = '';
  /** The previous chunk ended with CR: a LF opening this one belongs to the same line end. */
  private afterCR = false;
  private started = false;
  private data: string[] = [];
  private type = '';
  lastEventId = '';
  /** The server's `retry:` (reconnection time in ms), or null. */
  retry: number | null = null;
  /** Comment lines read (keep-alives). */
  comments = 0;

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
  }

  feed(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    let i = 0;
    if (this.afterCR && text.startsWith('\n')) i = 1;
    this.afterCR = false;
    while (i < text.length) {
      const cr = text.indexOf('\r', i);
      const lf = text.indexOf('\n', i);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) {
        this.line += text.slice(i);
        break;
      }
      this.line += text.slice(i, end);
      const message = this.takeLine();
      if (message) out.push(message);
      if (text[end] === '\r' && text[end + 1] === '\n') i = end + 2;
      else {
        // A CR that ends the chunk may be the first half of a CR LF.
        if (text[end] === '\r' && end + 1 === text.length) this.afterCR = true;
        i = end + 1;
      }
    }
    return out;
  }

  private takeLine(): SseMessage | undefined {
    const line = this.line;
    this.line = '';
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments += 1;
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default: // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const { data, type } = this;
    this.data = [];
    this.type = '';
    if (data.length === 0) return undefined;
    return { event: type === '' ? 'message' : type, data: data.join('\n'), lastEventId: this.lastEventId };
  }
}

/** What the stream is doing, for the page to show. */
export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'retrying'; inMs: number; reason: string }
  /** For good: `status` is the HTTP status when there was one. */
  | { kind: 'stopped'; status?: number; reason: string };

export interface FollowOptions {
  url: string;
  token: string;
  /** Aborting it closes the stream and ends followEventStream. */
  signal: AbortSignal;
  onMessage: (message: SseMessage) => void;
  onState: (state: StreamState) => void;
  /** Called once on a 401 (the token expired or was revoked); the stream then stops. */
  onUnauthorized?: () => void;
  /** First reconnection delay (ms); the server's `retry:` replaces it. Default 1 s. */
  baseDelayMs?: number;
  /** Longest reconnection delay (ms). Default 30 s. */
  maxDelayMs?: number;
  /** With nothing received for this long (ms; keep-alives come every 15 s) the stream counts as dead. Default 45 s. */
  idleMs?: number;
  /**
   * Which messages show the stream is healthy (the failure count, and so the delay, starts over).
   * Default: any. A stream that stayed open for `stableMs` counts as healthy too; one that only
   * greets and ends (the server cannot serve it just now) does not, so its retries slow down.
   */
  healthy?: (message: SseMessage) => boolean;
  /** Default 30 s. */
  stableMs?: number;
  /** For tests: [0, 1). Delays are spread by ±20 % so that many pages do not reconnect at once. */
  random?: () => number;
}

const DEFAULTS = { baseDelayMs: 1000, maxDelayMs: 30_000, idleMs: 45_000, stableMs: 30_000 };
/** A Retry-After longer than this is not waited for in full. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** The attempt failed and retrying cannot help. */
class Stop extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
  ) {
    super(reason);
  }
}
/** The attempt failed or ended; try again after the backoff (at least `afterMs`). */
class Retry extends Error {
  constructor(
    readonly reason: string,
    readonly afterMs = 0,
  ) {
    super(reason);
  }
}

/** Retry-After: seconds or an HTTP date → ms (0 when absent or unreadable). */
function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const ms = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : 0;
}

async function problemDetail(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { detail?: string; title?: string };
    return body.detail ?? body.title ?? '';
  } catch {
    return '';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * Reads the event stream at `url` until `signal` aborts or the server refuses for good. Resolves
 * then; never rejects. The delay doubles with each failure in a row, up to maxDelayMs; it starts
 * over once a connection proves healthy (see `healthy`).
 */
export async function followEventStream(opts: FollowOptions): Promise<void> {
  const { url, token, signal, onMessage, onState } = opts;
  const baseDelay = opts.baseDelayMs ?? DEFAULTS.baseDelayMs;
  const maxDelay = opts.maxDelayMs ?? DEFAULTS.maxDelayMs;
  const idleMs = opts.idleMs ?? DEFAULTS.idleMs;
  const random = opts.random ?? Math.random;
  const healthy = opts.healthy ?? (() => true);
  const stableMs = opts.stableMs ?? DEFAULTS.stableMs;
  let lastEventId = '';
  let serverRetry: number | null = null;
  let failures = 0;

  while (!signal.aborted) {
    onState({ kind: 'connecting' });
    const attempt = new AbortController();
    const cancel = () => attempt.abort();
    signal.addEventListener('abort', cancel);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // fetch() errors the body when its signal aborts; cancelling the reader as well ends a read in any case.
    attempt.signal.addEventListener('abort', () => void reader?.cancel().catch(() => undefined));
    let idle = false;
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        idle = true;
        attempt.abort();
      }, idleMs);
    };
    let outcome: Stop | Retry;
    try {
      arm();
      const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
      if (lastEventId !== '') headers['last-event-id'] = lastEventId;
      const res = await fetch(url, { signal: attempt.signal, headers, credentials: 'omit', cache: 'no-store' });
      if (!res.ok) {
        const detail = await problemDetail(res);
        const said = `The API answered ${res.status}${detail ? `: ${detail}` : ''}.`;
        if (res.status === 401) {
          opts.onUnauthorized?.();
          throw new Stop(said, 401);
        }
        if (res.status === 408 || res.status === 429 || res.status >= 500) throw new Retry(said, retryAfterMs(res.headers.get('retry-after')));
        throw new Stop(said, res.status);
      }
      const type = res.headers.get('content-type') ?? '';
      if (!/^text\/event-stream\b/i.test(type) || !res.body) throw new Stop(`The API answered ${type || 'no content type'}, not an event stream.`, res.status);
      onState({ kind: 'open' });
      const openedAt = Date.now();
      const parser = new SseParser(lastEventId);
      reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        const messages = parser.feed(decoder.decode(value, { stream: true }));
        lastEventId = parser.lastEventId;
        serverRetry = parser.retry ?? serverRetry;
        if (messages.some(healthy) || Date.now() - openedAt >= stableMs) failures = 0;
        for (const m of messages) {
          if (signal.aborted) break;
          onMessage(m);
        }
      }
      outcome = new Retry(idle ? `Nothing received for ${Math.round(idleMs / 1000)} s.` : 'The stream ended.');
    } catch (err) {
      if (err instanceof Stop || err instanceof Retry) outcome = err;
      else if (signal.aborted) outcome = new Stop('Closed.');
      else if (idle) outcome = new Retry(`Nothing received for ${Math.round(idleMs / 1000)} s.`);
      else outcome = new Retry(`The API cannot be reached (${(err as Error).message}).`);
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', cancel);
      attempt.abort(); // the body, if still open
    }
    if (signal.aborted) return;
    if (outcome instanceof Stop) {
      onState({ kind: 'stopped', reason: outcome.reason, ...(outcome.status !== undefined ? { status: outcome.status } : {}) });
      return;
    }
    failures += 1;
    const backoff = Math.min(maxDelay, (serverRetry ?? baseDelay) * 2 ** Math.min(failures - 1, 16));
    const delay = Math.max(outcome.afterMs, Math.round(backoff * (0.8 + 0.4 * random())));
    onState({ kind: 'retrying', inMs: delay, reason: outcome.reason });
    await sleep(delay, signal);
  }
}
