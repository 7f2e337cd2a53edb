/**
 * What every producer and consumer of location pings shares: the topics, the validation
 * rules of docs/contract.md §3.1, the Kafka value encoding, and the batching publisher that both the
 * gRPC ingest and `POST /api/locations` use.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { BinaryReader, LocationPing, Timestamp } from '@udaconnect/proto';
import { captureTrace, producerSpans, type BusProducer, type Knex, type MessageTrace, type OutgoingMessage, type Principal } from '@udaconnect/common';

export { LocationPing };

export const LOCATIONS_TOPIC = 'locations';
export const LOCATIONS_DLQ_TOPIC = 'locations.dlq';
export const MAX_FUTURE_MS = 5 * 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PingProblem {
  /** The proto field at fault, e.g. "latitude". */
  field: string;
  /** A sentence a device developer can act on. */
  reason: string;
  /**
   * `forbidden`: the caller may not send for this person (403 / PERMISSION_DENIED);
   * `not_found`: no such person (404 / NOT_FOUND); `invalid`: anything else (400 / INVALID_ARGUMENT).
   */
  kind: 'invalid' | 'not_found' | 'forbidden';
}

const invalid = (field: string, reason: string): PingProblem => ({ field, reason: `${field}: ${reason}`, kind: 'invalid' });

/**
 * Problems only the wire bytes show, found by decodePingBytes: the Date that ts-proto makes of a
 * Timestamp folds out-of-range nanos into the seconds, so they are checked on the raw message.
 */
const wireProblems = new WeakMap<LocationPing, PingProblem>();

/**
 * A received ping's own bytes, kept by decodePingBytes when asked: toMessage publishes them as
 * they are when the ping reaches it unchanged (admitPing and withEventId copy a ping they change),
 * instead of encoding the same fields again (~4 µs a ping, a tenth of location-ingest's CPU per
 * ping: docs/benchmarks.md). Consumers decode them with the same decoder, so they read the same
 * ping; a longer one (unknown fields, padding) is encoded again, so Kafka holds no more than a
 * ping's fields from any device.
 */
const wireBytes = new WeakMap<LocationPing, Uint8Array>();
/** A ping of the SDK's is about 75 bytes. */
const MAX_KEPT_BYTES = 128;

/**
 * Decodes a LocationPing from its protobuf bytes (a gRPC request, a Kafka value) and remembers
 * what checkPing cannot see on the decoded object (Timestamp nanos outside 0..999,999,999), and
 * with `keepBytes` the bytes themselves, for toMessage (they must not change afterwards: pass a
 * copy the caller owns). Throws on bytes that are not a LocationPing.
 */
export function decodePingBytes(bytes: Uint8Array, keepBytes = false): LocationPing {
  const ping = LocationPing.decode(bytes);
  if (keepBytes && bytes.length <= MAX_KEPT_BYTES) wireBytes.set(ping, bytes);
  if (ping.recordedAt !== undefined) {
    const raw = rawRecordedAt(bytes);
    if (raw && (raw.nanos < 0 || raw.nanos > 999_999_999 || !Number.isInteger(raw.nanos))) {
      wireProblems.set(ping, invalid('recorded_at', `nanos must be in 0..999,999,999, got ${raw.nanos}`));
    }
  }
  return ping;
}

/** Pings one RecordBatch message may carry (docs/contract.md §3.1). */
export const MAX_PINGS_PER_BATCH = 5_000;

/**
 * Decodes a LocationBatch from its protobuf bytes, each ping with decodePingBytes (so its wire
 * problems and its bytes are kept; the bytes are copied once, so the caller's buffer may change). A batch of more than `maxPings` is only counted (its pings are not decoded:
 * `pings` is empty). Throws on bytes that are not a LocationBatch.
 */
export function decodeBatchBytes(bytes: Uint8Array, maxPings = Infinity): { count: number; pings: LocationPing[] } {
  const reader = new BinaryReader(Buffer.from(bytes));
  const raw: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) raw.push(reader.bytes());
    else reader.skip(tag & 7);
  }
  return { count: raw.length, pings: raw.length > maxPings ? [] : raw.map((ping) => decodePingBytes(ping, true)) };
}

/** The last recorded_at (field 5) of an encoded LocationPing, as sent. */
function rawRecordedAt(bytes: Uint8Array): Timestamp | undefined {
  const reader = new BinaryReader(bytes);
  let found: Timestamp | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 5 && (tag & 7) === 2) found = Timestamp.decode(reader, reader.uint32());
    else reader.skip(tag & 7);
  }
  return found;
}

/**
 * Checks a ping against docs/contract.md §3.1, except whether the person exists (see PersonDirectory).
 * `maxFutureMs` bounds how far after `now` recorded_at may be (5 minutes on every path, the writer's too).
 */
export function checkPing(ping: LocationPing, now = Date.now(), maxFutureMs = MAX_FUTURE_MS): PingProblem | null {
  const wire = wireProblems.get(ping);
  if (wire) return wire;
  if (ping.eventId !== '' && !UUID.test(ping.eventId)) return invalid('event_id', `must be a UUID or empty, got "${ping.eventId.slice(0, 64)}"`);
  if (!Number.isInteger(ping.personId) || ping.personId <= 0) return invalid('person_id', `must be a positive person id, got ${ping.personId}`);
  if (ping.latitude === undefined) return invalid('latitude', 'is required (degrees in [-90, 90])');
  if (!Number.isFinite(ping.latitude) || ping.latitude < -90 || ping.latitude > 90) {
    return invalid('latitude', `must be a finite number of degrees in [-90, 90], got ${ping.latitude}`);
  }
  if (ping.longitude === undefined) return invalid('longitude', 'is required (degrees in [-180, 180])');
  if (!Number.isFinite(ping.longitude) || ping.longitude < -180 || ping.longitude > 180) {
    return invalid('longitude', `must be a finite number of degrees in [-180, 180], got ${ping.longitude}`);
  }
  if (ping.recordedAt === undefined) return invalid('recorded_at', 'is required');
  const t = ping.recordedAt.getTime();
  if (Number.isNaN(t)) return invalid('recorded_at', 'is not a representable time (years 1970..9999 are accepted)');
  if (t <= 0) return invalid('recorded_at', `must be after 1970-01-01T00:00:00Z, got ${ping.recordedAt.toISOString()}`);
  if (t > now + maxFutureMs) {
    return invalid('recorded_at', `is ${Math.round((t - now) / 1000)} s in the future; at most ${maxFutureMs / 1000} s is accepted (check the device clock)`);
  }
  return null;
}

export type PingVerdict = { ok: true; ping: LocationPing } | { ok: false; problem: PingProblem };

/**
 * Whether `caller` may send `ping`, the one admission rule of every transport (gRPC Record and
 * RecordStream, REST POST /api/locations); each maps the verdict to its own status. In order:
 * the caller (an attendee's token sends for its own person only, and person_id 0 means "mine";
 * an organizer's for anyone; a service token for no one), the fields (checkPing), the person.
 * The admitted ping has its event id. Rejects (does not answer) when the person check needs the
 * database and it is down.
 */
export async function admitPing(caller: Principal, ping: LocationPing, persons: { exists(personId: number): Promise<boolean> }): Promise<PingVerdict> {
  const forbidden = (reason: string): PingVerdict => ({ ok: false, problem: { field: 'person_id', reason, kind: 'forbidden' } });
  if (caller.role === 'service') return forbidden('a service token may not send pings');
  // Seen on the decoded object only (the copy below would lose it).
  const wire = wireProblems.get(ping);
  if (wire) return { ok: false, problem: wire };
  if (caller.role === 'attendee') {
    if (ping.personId === 0) ping = { ...ping, personId: caller.personId };
    else if (ping.personId !== caller.personId) {
      return forbidden(`person_id: this device's token sends pings for person ${caller.personId} only, not ${ping.personId}`);
    }
  }
  const problem = checkPing(ping);
  if (problem) return { ok: false, problem };
  if (!(await persons.exists(ping.personId))) {
    return { ok: false, problem: { field: 'person_id', reason: `person_id: no person with id ${ping.personId}`, kind: 'not_found' } };
  }
  return { ok: true, ping: withEventId(ping) };
}

/** The ping as published: event id assigned if the device left it empty. */
export function withEventId(ping: LocationPing): LocationPing {
  return ping.eventId ? ping : { ...ping, eventId: randomUUID() };
}

export function toMessage(ping: LocationPing): OutgoingMessage {
  const bytes = wireBytes.get(ping) ?? LocationPing.encode(ping).finish();
  // Keyed by person: one person's pings stay on one partition, in order. The value is a view of
  // the bytes, not a copy (Buffer.from of a Uint8Array copies it byte by byte).
  return { key: String(ping.personId), value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Decodes a Kafka value; throws on bytes that are not a LocationPing. */
export function decodePing(value: Buffer | null): LocationPing {
  if (!value || value.length === 0) throw new Error('empty message value');
  return decodePingBytes(value);
}

/**
 * Batches pings into few Kafka sends: a send leaves when `maxBatch` pings are queued or
 * `lingerMs` after the first one. Each publish() resolves when its batch is acknowledged
 * (acks=all), so callers never wait for one round trip per ping, and nothing is
 * acknowledged to a device before Kafka has it.
 */
export class PingPublisher {
  private queue: Array<{ message: OutgoingMessage; resolve: () => void; reject: (e: unknown) => void; trace: MessageTrace | undefined }> = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  constructor(
    private readonly producer: BusProducer,
    private readonly topic = LOCATIONS_TOPIC,
    private readonly opts: {
      maxBatch?: number;
      lingerMs?: number;
      /** Told of each send: its size, how long Kafka took to answer, and whether it took it (metrics). */
      onSent?: (size: number, seconds: number, ok: boolean) => void;
    } = {},
  ) {}

  publish(ping: LocationPing): Promise<void> {
    // The caller's trace (a REST request, a gRPC call), continued by the send's span (flush).
    const trace = captureTrace();
    return new Promise((resolve, reject) => {
      this.queue.push({ message: toMessage(ping), resolve, reject, trace });
      if (this.queue.length >= (this.opts.maxBatch ?? 1000)) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs ?? 5);
    });
  }

  /** Sends whatever is queued now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    // Traced: a PRODUCER span per caller among these pings, ending with Kafka's answer; its context
    // travels in the messages' headers to the writer (common/src/tracing.ts).
    const spans = producerSpans(
      this.topic,
      batch.map((b) => b.trace),
    );
    const started = process.hrtime.bigint();
    const sent = (ok: boolean) => this.opts.onSent?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9, ok);
    const sending = this.producer
      .send(
        this.topic,
        batch.map((b, i) => (spans.headers[i] ? { ...b.message, headers: spans.headers[i] } : b.message)),
      )
      .then(
        () => {
          sent(true);
          spans.end();
          for (const b of batch) b.resolve();
        },
        (err) => {
          sent(false);
          spans.end(err);
          for (const b of batch) b.reject(err);
        },
      );
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  /** Flushes and waits for every send in flight (used on shutdown). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}

/** Thrown by PersonDirectory.exists when too many unknown ids already wait for the database. */
export class PersonCheckOverloaded extends Error {
  constructor() {
    super('too many person ids are being looked up; retry later');
    this.name = 'PersonCheckOverloaded';
  }
}

export interface PersonDirectoryOptions {
  /** How often all ids are reloaded (default 60 s). */
  refreshMs?: number;
  /** How long an id found missing is answered "no" without the database (default 5 s). */
  negativeTtlMs?: number;
  /** At most this many missing ids are remembered, least recently used dropped first (default 10,000). */
  negativeMax?: number;
  /** Unknown ids asked for within this window share one query (default 5 ms). */
  batchWindowMs?: number;
  /** Ids per look-up query (default 1,000). */
  batchMax?: number;
  /** Look-up queries running at once (default 1: the pool keeps its other connections). */
  maxConcurrentQueries?: number;
  /** Unknown ids waiting for a look-up at most; more are refused with PersonCheckOverloaded (default 20,000). */
  maxWaiting?: number;
}

/**
 * Which person ids exist, without a query per ping: all ids are loaded at start and refreshed
 * periodically. Ids not yet known are looked up in batches (`WHERE id = ANY(?)`, one query per
 * short window, a bounded number at once), so a flood of unknown ids costs a few queries, not one
 * each, and never takes the pool from anyone else; a miss is remembered for `negativeTtlMs` in a
 * cache of bounded size. A known id is answered from memory whatever else is going on.
 */
export class PersonDirectory {
  private known = new Set<number>();
  private readonly misses: LRUCache<number, true>;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Ids waiting for the next query, each with the callers waiting for its answer. */
  private waiting = new Map<number, Array<{ resolve: (found: boolean) => void; reject: (err: unknown) => void }>>();
  private batchTimer: NodeJS.Timeout | undefined;
  private running = 0;
  private readonly o: Required<Omit<PersonDirectoryOptions, 'refreshMs'>> & { refreshMs: number };

  constructor(
    private readonly knex: Knex,
    opts: PersonDirectoryOptions = {},
  ) {
    this.o = {
      refreshMs: opts.refreshMs ?? 60_000,
      negativeTtlMs: opts.negativeTtlMs ?? 5_000,
      negativeMax: opts.negativeMax ?? 10_000,
      batchWindowMs: opts.batchWindowMs ?? 5,
      batchMax: opts.batchMax ?? 1_000,
      maxConcurrentQueries: opts.maxConcurrentQueries ?? 1,
      maxWaiting: opts.maxWaiting ?? 20_000,
    };
    this.misses = new LRUCache({ max: this.o.negativeMax, ttl: this.o.negativeTtlMs });
  }

  /**
   * Loads the ids in the background and every refreshMs after. Until a load succeeds (the database
   * may be down at start-up) ids are looked up as new ids always are.
   */
  start(): void {
    const load = () => void this.refresh().catch(() => undefined);
    load();
    this.refreshTimer = setInterval(load, this.o.refreshMs);
    this.refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.refreshTimer);
  }

  async refresh(): Promise<void> {
    const rows: Array<{ id: number }> = await this.knex('person').select('id');
    this.known = new Set(rows.map((r) => r.id));
  }

  /** An erased person: unknown from now on in this process (the others learn it at their next refresh). */
  forget(personId: number): void {
    this.known.delete(personId);
  }

  /** Sizes, for tests and diagnostics: remembered misses and ids waiting for a query. */
  get stats(): { negativeCached: number; waiting: number; queriesRunning: number } {
    return { negativeCached: this.misses.size, waiting: this.waiting.size, queriesRunning: this.running };
  }

  /**
   * Resolves at once for known ids; throws if the database is needed and down, or
   * PersonCheckOverloaded if too many unknown ids already wait.
   */
  exists(personId: number): Promise<boolean> {
    if (this.known.has(personId)) return Promise.resolve(true);
    if (this.misses.get(personId)) return Promise.resolve(false);
    const callers = this.waiting.get(personId);
    if (!callers && this.waiting.size >= this.o.maxWaiting) return Promise.reject(new PersonCheckOverloaded());
    return new Promise((resolve, reject) => {
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(personId, [{ resolve, reject }]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running >= this.o.maxConcurrentQueries || this.waiting.size === 0) return;
    if (this.waiting.size >= this.o.batchMax) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      this.lookUp();
    } else {
      this.batchTimer ??= setTimeout(() => {
        this.batchTimer = undefined;
        this.lookUp();
      }, this.o.batchWindowMs);
    }
  }

  /** One query for up to batchMax waiting ids. */
  private lookUp(): void {
    if (this.running >= this.o.maxConcurrentQueries || this.waiting.size === 0) return;
    const batch = new Map<number, Array<{ resolve: (found: boolean) => void; reject: (err: unknown) => void }>>();
    for (const [id, callers] of this.waiting) {
      if (batch.size >= this.o.batchMax) break;
      batch.set(id, callers);
      this.waiting.delete(id);
    }
    this.running++;
    void this.knex
      .raw<{ rows: Array<{ id: number }> }>('SELECT id FROM person WHERE id = ANY(?::int[])', [[...batch.keys()]])
      .then(
        ({ rows }) => {
          const found = new Set(rows.map((r) => r.id));
          for (const [id, callers] of batch) {
            if (found.has(id)) {
              this.known.add(id);
              this.misses.delete(id);
            } else this.misses.set(id, true);
            for (const c of callers) c.resolve(found.has(id));
          }
        },
        (err: unknown) => {
          for (const callers of batch.values()) for (const c of callers) c.reject(err);
        },
      )
      .finally(() => {
        this.running--;
        this.schedule();
      });
  }
}
