/**
 * Sends simulated device pings to location-ingest over gRPC, paced to a total rate, with one of
 * two methods (`method`):
 *
 * - `batch` (the default): a few slots each send one RecordBatch of up to `batch` pings at a
 *   time and wait for its summary before sending their next one. A slot collects its next
 *   batch meanwhile and sends it when it is full, when its oldest ping has waited
 *   BATCH_LINGER_MS, or when sending is over. A slot holding a full batch takes no more pings.
 * - `stream`: a few slots each keep one RecordStream call open, write up to `batch` pings to it,
 *   end it and open the next; the summary of an ended call is awaited while the next call is
 *   already being written. A slot stops taking pings while its call's buffer is full (gRPC
 *   flow control) or while `maxOpenCallsPerSlot` of its calls await their summaries.
 *
 * Either way a slow server slows the simulator instead of filling its memory: when every slot
 * is blocked, the pings due are not generated (at most one second of them is owed).
 *
 * Optionally every `sampleEvery`-th ping goes through the unary Record call instead, and the
 * wall-clock times at which it was sent and acknowledged are kept: a batch or a stream
 * acknowledges its pings only all together, at its end; a Record call acknowledges exactly one
 * ping as soon as it is in Kafka. The benchmark uses these samples for its latency figures.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { bearerInterceptor } from '@udaconnect/common';
import { MAX_PINGS_PER_BATCH } from '@udaconnect/domain';
import { createVenue, type Venue } from './venue';

/** How the pings are sent: one RecordBatch message per batch, or one RecordStream call per batch. */
export const SEND_METHODS = ['batch', 'stream'] as const;
export type SendMethod = (typeof SEND_METHODS)[number];

/** The most pings one RecordBatch may carry (location.proto); with method `batch`, a larger `batch` is refused (RangeError). */
export const MAX_BATCH = MAX_PINGS_PER_BATCH;

export interface SimulationOptions {
  /** host:port of location-ingest. */
  target: string;
  /** Channel credentials for location-ingest: TLS with the CA to trust; plaintext (insecure) when absent. */
  credentials?: grpc.ChannelCredentials;
  /** Bearer token sent on every call (an organizer's: the simulated devices are many persons). */
  token: string;
  /** The person ids the simulated devices belong to; they must exist. */
  personIds: readonly number[];
  /** Pings per second, all slots together. */
  rate: number;
  durationMs: number;
  /** RecordBatch (default) or RecordStream. */
  method?: SendMethod;
  /** Send slots, each on its own connection: with `batch`, RecordBatch calls in flight at once; with `stream`, RecordStream calls being written at once. */
  streams?: number;
  /** Pings per RecordBatch call (at most MAX_BATCH), or per RecordStream call before it is ended and the next one opened. */
  batch?: number;
  seed?: number;
  /** Every Nth ping is sent with Record and its send and ack times are kept (0: none). */
  sampleEvery?: number;
  /** How long to wait for location-ingest to accept a connection. */
  connectTimeoutMs?: number;
  /** After the last ping is sent, how long to wait for the outstanding acknowledgements. */
  drainTimeoutMs?: number;
  /** Aborting stops sending early; the pings already sent are still awaited. */
  signal?: AbortSignal;
  progressIntervalMs?: number;
  /** With `stream`: calls per slot that may await their summary at once (a `batch` slot always awaits one). */
  maxOpenCallsPerSlot?: number;
  /** An existing venue model (else one is built from `seed` and the number of persons). */
  venue?: Venue;
}

export interface Progress {
  elapsedMs: number;
  sent: number;
  acked: number;
  rejected: number;
  failed: number;
  /** Pings sent per second since the previous report. */
  sendRate: number;
  /** Pings acknowledged per second since the previous report. */
  ackRate: number;
}

interface AckSample {
  eventId: string;
  personId: number;
  /** Date.now() when the call was started, and when its acknowledgement arrived. */
  sentAt: number;
  ackedAt: number;
}

export interface SimulationStats {
  /** Pings handed to gRPC (sent in a RecordBatch, written to a stream or sent with Record). */
  sent: number;
  /** Pings location-ingest acknowledged: they are in Kafka. */
  acked: number;
  /** Pings location-ingest refused (invalid, unknown person), with the first few reasons. */
  rejected: number;
  rejections: Array<{ eventId: string; reason: string }>;
  /** Pings whose call failed (transport error, server gone, timeout), with the first few errors. */
  failed: number;
  errors: string[];
  /** From the first ping sent to the last acknowledgement. */
  elapsedMs: number;
  /** Time spent sending (≈ durationMs unless aborted). */
  sendingMs: number;
  /** Acknowledged pings per second over elapsedMs. */
  achievedRate: number;
  samples: AckSample[];
}

export class IngestUnreachableError extends Error {
  constructor(
    readonly target: string,
    detail?: string,
  ) {
    super(`cannot reach location-ingest at ${target} — is \`npm start\` running?${detail ? ` (${detail})` : ''}`);
    this.name = 'IngestUnreachableError';
  }
}

const FIRST_FEW = 5;
const TICK_MS = 5;
/** At most this many sampled Record calls in flight; beyond it a sampled ping goes with the others. */
const MAX_UNARY_IN_FLIGHT = 256;
/** With method `batch`: the longest a ping waits in its slot for the batch to fill before the batch is sent anyway. */
const BATCH_LINGER_MS = 1_000;

interface OpenCall {
  stream: grpc.ClientWritableStream<LocationPing>;
  written: number;
  broken: boolean;
}

export async function runSimulation(options: SimulationOptions, onProgress?: (p: Progress) => void): Promise<SimulationStats> {
  const method = options.method ?? 'batch';
  const streams = options.streams ?? 4;
  const batch = options.batch ?? 500;
  const sampleEvery = options.sampleEvery ?? 0;
  const maxOpen = options.maxOpenCallsPerSlot ?? 4;
  const { personIds, rate, durationMs, target } = options;
  if (personIds.length === 0) throw new RangeError('personIds must not be empty');
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError('rate must be a positive number');
  if (!(streams >= 1) || !(batch >= 1)) throw new RangeError('streams and batch must be at least 1');
  if (!SEND_METHODS.includes(method)) throw new RangeError(`method must be one of ${SEND_METHODS.join(', ')}`);
  if (method === 'batch' && batch > MAX_BATCH) throw new RangeError(`batch must be at most ${MAX_BATCH} with method batch (RecordBatch's limit)`);
  const venue = options.venue ?? createVenue({ attendees: personIds.length, seed: options.seed ?? 1 });

  // One channel per slot: separate HTTP/2 connections, so one slow call cannot hold up the others' flow-control window.
  const clients = Array.from(
    { length: streams },
    () =>
      new LocationIngestClient(target, options.credentials ?? grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        interceptors: [bearerInterceptor(options.token)],
      }),
  );
  const closeClients = () => clients.forEach((c) => c.close());

  try {
    await Promise.all(
      clients.map(
        (c) =>
          new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + (options.connectTimeoutMs ?? 5_000), (err) => (err ? reject(err) : resolve()))),
      ),
    );
  } catch (err) {
    closeClients();
    throw new IngestUnreachableError(target, (err as Error).message);
  }

  const stats: SimulationStats = {
    sent: 0,
    acked: 0,
    rejected: 0,
    rejections: [],
    failed: 0,
    errors: [],
    elapsedMs: 0,
    sendingMs: 0,
    achievedRate: 0,
    samples: [],
  };
  const noteError = (message: string) => {
    if (stats.errors.length < FIRST_FEW) stats.errors.push(message);
  };
  const noteRejection = (eventId: string, reason: string) => {
    if (stats.rejections.length < FIRST_FEW) stats.rejections.push({ eventId, reason });
  };

  const startedAt = Date.now();
  let lastAckAt = startedAt;
  let lost: Error | undefined;
  const inFlight = new Set<Promise<void>>();
  const calls = new Set<grpc.ClientUnaryCall | grpc.ClientWritableStream<LocationPing>>();
  /** Set when the drain timeout is reached: pings still waiting in a batch slot are counted as failed, not sent. */
  let gaveUp = false;
  const track = (p: Promise<void>, call: grpc.ClientUnaryCall | grpc.ClientWritableStream<LocationPing>) => {
    inFlight.add(p);
    calls.add(call);
    void p.finally(() => {
      inFlight.delete(p);
      calls.delete(call);
    });
  };
  /** A dropped connection is fatal: stop sending and report it, rather than counting failures for a minute. */
  const checkConnection = (err: grpc.ServiceError, client: LocationIngestClient) => {
    if (err.code !== grpc.status.UNAVAILABLE) return;
    // The server answering UNAVAILABLE itself (e.g. Kafka down) leaves the channel READY.
    if (client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) {
      lost ??= new IngestUnreachableError(target, `connection lost: ${err.details}`);
    }
  };

  /** A call that failed: its `pings` count as failed, the error is noted, a lost connection ends the run. */
  const callFailed = (err: grpc.ServiceError, client: LocationIngestClient, pings: number, hint = '') => {
    stats.failed += pings;
    noteError(`${grpc.status[err.code] ?? err.code}: ${err.details}${hint}`);
    checkConnection(err, client);
  };

  // ---------------------------------------------------------------- send slots
  interface SendSlot {
    /** Whether it takes a ping now. */
    readonly ready: boolean;
    write(ping: LocationPing): void;
    /** Every tick: sends what has waited long enough. */
    poll(now: number): void;
    /** Sending is over: sends or ends what it holds. */
    finish(): void;
  }

  const countSummary = (summary: StreamSummary) => {
    stats.acked += summary.accepted;
    stats.rejected += summary.rejected;
    for (const r of summary.rejections.slice(0, FIRST_FEW)) noteRejection(r.eventId, r.reason);
    lastAckAt = Date.now();
  };

  /** Sends one RecordBatch at a time and collects the next meanwhile. */
  class BatchSlot implements SendSlot {
    private pending: LocationPing[] = [];
    /** Date.now() when the oldest pending ping was taken. */
    private oldestAt = 0;
    private busy = false;
    private finishing = false;

    constructor(private readonly client: LocationIngestClient) {}

    get ready(): boolean {
      return this.pending.length < batch;
    }

    write(ping: LocationPing): void {
      if (this.pending.length === 0) this.oldestAt = Date.now();
      this.pending.push(ping);
      this.poll(Date.now());
    }

    poll(now: number): void {
      if (this.busy || this.pending.length === 0) return;
      if (this.pending.length >= batch || this.finishing || now - this.oldestAt >= BATCH_LINGER_MS) this.send();
    }

    finish(): void {
      this.finishing = true;
      this.poll(Date.now());
    }

    private send(): void {
      const pings = this.pending;
      this.pending = [];
      stats.sent += pings.length;
      if (gaveUp) {
        // Never sent: counted with the cancelled calls' pings.
        stats.failed += pings.length;
        return;
      }
      this.busy = true;
      let settle!: () => void;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      const call = this.client.recordBatch({ pings }, (err: grpc.ServiceError | null, summary: StreamSummary) => {
        this.busy = false;
        if (err) {
          const hint = err.code === grpc.status.UNIMPLEMENTED ? ' (a location-ingest without RecordBatch: send with method stream)' : '';
          callFailed(err, this.client, pings.length, hint);
        } else {
          countSummary(summary);
        }
        // The next batch (if due) is tracked before this call settles, so the drain waits for it too.
        this.poll(Date.now());
        settle();
      });
      track(settled, call);
    }
  }

  /** Writes to one open RecordStream call at a time; up to maxOpen ended ones await their summaries. */
  class StreamSlot implements SendSlot {
    private call: OpenCall | undefined;
    private open = 0;
    private waitingForDrain = false;

    constructor(private readonly client: LocationIngestClient) {}

    get ready(): boolean {
      return !this.waitingForDrain && (this.call !== undefined ? !this.call.broken : this.open < maxOpen);
    }

    write(ping: LocationPing): void {
      const call = (this.call ??= this.startCall());
      call.written++;
      stats.sent++;
      if (!call.stream.write(ping)) {
        this.waitingForDrain = true;
        call.stream.once('drain', () => (this.waitingForDrain = false));
      }
      if (call.written >= batch) this.finish();
    }

    poll(): void {
      // A stream sends each ping as it is written.
    }

    /** Ends the open call (its summary is then awaited); the next write opens another. */
    finish(): void {
      const call = this.call;
      this.call = undefined;
      this.waitingForDrain = false;
      if (call && !call.broken) call.stream.end();
    }

    private startCall(): OpenCall {
      this.open++;
      let settle!: () => void;
      const settled = new Promise<void>((resolve) => (settle = resolve));
      const call: OpenCall = {
        written: 0,
        broken: false,
        stream: this.client.recordStream((err: grpc.ServiceError | null, summary?: StreamSummary) => {
          this.open--;
          if (err || !summary) {
            call.broken = true;
            if (this.call === call) this.call = undefined;
            if (err) callFailed(err, this.client, call.written);
            else {
              stats.failed += call.written;
              noteError('stream ended without a summary');
            }
          } else {
            countSummary(summary);
          }
          settle();
        }),
      };
      track(settled, call.stream);
      // Errors are reported to the callback above; this only keeps an 'error' event from being unhandled.
      call.stream.on('error', () => undefined);
      return call;
    }
  }

  const slots: SendSlot[] = clients.map((c) => (method === 'batch' ? new BatchSlot(c) : new StreamSlot(c)));
  let unaryInFlight = 0;

  const record = (client: LocationIngestClient, ping: LocationPing) => {
    unaryInFlight++;
    stats.sent++;
    const sentAt = Date.now();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const call = client.record(ping, (err, ack) => {
      unaryInFlight--;
      const now = Date.now();
      if (!err) {
        stats.acked++;
        lastAckAt = now;
        stats.samples.push({ eventId: ack.eventId, personId: ping.personId, sentAt, ackedAt: now });
      } else if (err.code === grpc.status.INVALID_ARGUMENT || err.code === grpc.status.NOT_FOUND) {
        stats.rejected++;
        noteRejection(ping.eventId, err.details);
      } else {
        callFailed(err, client, 1);
      }
      settle();
    });
    track(settled, call);
  };

  // ---------------------------------------------------------------- pacing
  let generated = 0;
  /** Pings the schedule gave up on while every slot was blocked (at most one second is owed). */
  let skipped = 0;
  let nextSlot = 0;
  let stopSending!: () => void;
  const sendingDone = new Promise<void>((resolve) => (stopSending = resolve));

  const nextPing = (now: number): LocationPing => {
    const index = generated % personIds.length;
    const pos = venue.positionAt(index, (now - startedAt) / 1000);
    generated++;
    return { eventId: randomUUID(), personId: personIds[index]!, latitude: pos.latitude, longitude: pos.longitude, recordedAt: new Date(now) };
  };

  const tick = () => {
    const now = Date.now();
    const elapsed = now - startedAt;
    if (elapsed >= durationMs || options.signal?.aborted || lost) return finishSending(now);
    let due = Math.floor((rate * elapsed) / 1000) - generated - skipped;
    if (due > rate) {
      skipped += due - Math.ceil(rate);
      due = Math.ceil(rate);
    }
    for (; due > 0; due--) {
      if (sampleEvery > 0 && generated % sampleEvery === 0 && unaryInFlight < MAX_UNARY_IN_FLIGHT) {
        record(clients[generated % clients.length]!, nextPing(now));
        continue;
      }
      let slot: SendSlot | undefined;
      for (let k = 0; k < slots.length && !slot; k++) {
        const s = slots[(nextSlot + k) % slots.length]!;
        if (s.ready) slot = s;
      }
      if (!slot) break; // every slot is blocked: the server is the limit right now
      nextSlot = (slots.indexOf(slot) + 1) % slots.length;
      slot.write(nextPing(now));
    }
    for (const s of slots) s.poll(now);
  };

  let sendingMs = 0;
  const finishSending = (now: number) => {
    clearInterval(ticker);
    sendingMs = now - startedAt;
    for (const s of slots) s.finish();
    stopSending();
  };

  // ---------------------------------------------------------------- progress
  let last = { at: startedAt, sent: 0, acked: 0 };
  const report = () => {
    const now = Date.now();
    const seconds = Math.max(1e-3, (now - last.at) / 1000);
    onProgress?.({
      elapsedMs: now - startedAt,
      sent: stats.sent,
      acked: stats.acked,
      rejected: stats.rejected,
      failed: stats.failed,
      sendRate: (stats.sent - last.sent) / seconds,
      ackRate: (stats.acked - last.acked) / seconds,
    });
    last = { at: now, sent: stats.sent, acked: stats.acked };
  };
  const progressTimer = onProgress ? setInterval(report, options.progressIntervalMs ?? 1_000) : undefined;
  const ticker = setInterval(tick, TICK_MS);

  try {
    await sendingDone;
    // Every call started is settled by its callback; a server that never answers is cut off after the drain timeout.
    // A batch slot's last batch starts only when its previous call is answered, so wait until none is left.
    const allSettled = async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    };
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      allSettled().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), options.drainTimeoutMs ?? 60_000))),
    ]);
    clearTimeout(timer);
    if (!drained) {
      noteError(`gave up waiting for ${inFlight.size} call(s) to be acknowledged`);
      gaveUp = true;
      for (const call of calls) call.cancel(); // their callbacks count the pings as failed
      await allSettled();
    }
  } finally {
    clearInterval(ticker);
    clearInterval(progressTimer);
    closeClients();
  }
  if (onProgress) report();
  if (lost) throw lost;

  stats.sendingMs = sendingMs;
  stats.elapsedMs = Math.max(lastAckAt, startedAt + 1) - startedAt;
  stats.achievedRate = stats.acked / (stats.elapsedMs / 1000);
  return stats;
}
