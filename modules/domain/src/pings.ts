/**
 * What every producer and consumer of location pings shares: the topics, the validation
 * rules of docs/contract.md §3.1, the Kafka value encoding, and the batching publisher that both the
 * gRPC ingest and `POST /api/locations` use.
 */
import { randomUUID } from 'node:crypto';
import { LocationPing } from '@udaconnect/proto';
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
 * Checks a ping against docs/contract.md §3.1, except whether the person exists (see PersonDirectory).
 * `maxFutureMs` is Infinity for consumers that re-check a ping accepted earlier.
 */
export function checkPing(ping: LocationPing, now = Date.now(), maxFutureMs = MAX_FUTURE_MS): PingProblem | null {
  if (ping.eventId !== '' && !UUID.test(ping.eventId)) return invalid('event_id', `must be a UUID or empty, got "${ping.eventId.slice(0, 64)}"`);
  if (!Number.isInteger(ping.personId) || ping.personId <= 0) return invalid('person_id', `must be a positive person id, got ${ping.personId}`);
  if (!Number.isFinite(ping.latitude) || ping.latitude < -90 || ping.latitude > 90) {
    return invalid('latitude', `must be a finite number of degrees in [-90, 90], got ${ping.latitude}`);
  }
  if (!Number.isFinite(ping.longitude) || ping.longitude < -180 || ping.longitude > 180) {
    return invalid('longitude', `must be a finite number of degrees in [-180, 180], got ${ping.longitude}`);
  }
  const t = ping.recordedAt?.getTime();
  if (t === undefined || Number.isNaN(t) || t <= 0) return invalid('recorded_at', 'is required (a timestamp after 1970-01-01)');
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
  // Keyed by person: one person's pings stay on one partition, in order.
  return { key: String(ping.personId), value: Buffer.from(LocationPing.encode(ping).finish()) };
}

/** Decodes a Kafka value; throws on bytes that are not a LocationPing. */
export function decodePing(value: Buffer | null): LocationPing {
  if (!value || value.length === 0) throw new Error('empty message value');
  return LocationPing.decode(value);
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

/**
 * Which person ids exist, without a query per ping: all ids are loaded at start and
 * refreshed periodically; an id not yet known is looked up once (new persons appear at
 * once) and a miss is remembered for `negativeTtlMs`.
 */
export class PersonDirectory {
  private known = new Set<number>();
  private misses = new Map<number, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private lookups = new Map<number, Promise<boolean>>();

  constructor(
    private readonly knex: Knex,
    private readonly opts: { refreshMs?: number; negativeTtlMs?: number } = {},
  ) {}

  /**
   * Loads the ids in the background and every refreshMs after. Until a load succeeds (the database
   * may be down at start-up) each id is looked up on its own, as new ids always are.
   */
  start(): void {
    const load = () => void this.refresh().catch(() => undefined);
    load();
    this.refreshTimer = setInterval(load, this.opts.refreshMs ?? 60_000);
    this.refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.refreshTimer);
  }

  async refresh(): Promise<void> {
    const rows: Array<{ id: number }> = await this.knex('person').select('id');
    this.known = new Set(rows.map((r) => r.id));
  }

  /** Resolves synchronously-fast for known ids; throws if the database is needed and down. */
  async exists(personId: number): Promise<boolean> {
    if (this.known.has(personId)) return true;
    const missedAt = this.misses.get(personId);
    if (missedAt !== undefined && Date.now() - missedAt < (this.opts.negativeTtlMs ?? 5_000)) return false;
    let lookup = this.lookups.get(personId);
    if (!lookup) {
      lookup = this.knex('person')
        .select('id')
        .where({ id: personId })
        .first()
        .then((row) => {
          if (row) {
            this.known.add(personId);
            this.misses.delete(personId);
            return true;
          }
          this.misses.set(personId, Date.now());
          return false;
        })
        .finally(() => this.lookups.delete(personId));
      this.lookups.set(personId, lookup);
    }
    return lookup;
  }
}
