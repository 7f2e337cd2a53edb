/**
 * Streams simulated device pings to location-ingest over gRPC, paced to a total rate.
 *
 * A few stream slots each keep one RecordStream call open, write up to `batch` pings to it,
 * end it and open the next; the summary of an ended call is awaited while the next call is
 * already being written. A slot stops taking pings while its call's buffer is full (gRPC
 * flow control) or while `maxOpenCallsPerSlot` of its calls await their summaries, so a slow
 * server slows the simulator instead of filling its memory.
 *
 * Optionally every `sampleEvery`-th ping goes through the unary Record call instead, and the
 * wall-clock times at which it was sent and acknowledged are kept: a stream acknowledges its
 * pings only all together at its end, a Record call acknowledges exactly one ping as soon as
 * it is in Kafka. The benchmark uses these samples for its latency figures.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { LocationIngestClient, type LocationPing, type StreamSummary } from '@udaconnect/proto';
import { bearerInterceptor } from '@udaconnect/common';
import { createVenue, type Venue } from './venue';

export interface SimulationOptions {
  /** host:port of location-ingest. */
  target: string;
  /** Channel credentials for location-ingest: TLS with the CA to trust; plaintext (insecure) when absent. */
  credentials?: grpc.ChannelCredentials;
  /** Bearer token sent on every call (an organizer's: the simulated devices are many persons). */
  token: string;
  /** The person ids the simulated devices belong to; they must exist. */
  personIds: readonly number[];
  /** Pings per second, all streams together. */
  rate: number;
  durationMs: number;
  /** Concurrent RecordStream calls. */
  streams?: number;
  /** Pings per RecordStream call before it is ended and the next one opened. */
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
  /** Calls per slot that may await their summary at once. */
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
  /** Pings handed to gRPC (written to a stream or sent with Record). */
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
/** At most this many sampled Record calls in flight; beyond it a sampled ping goes on a stream. */
const MAX_UNARY_IN_FLIGHT = 256;

interface OpenCall {
  stream: grpc.ClientWritableStream<LocationPing>;
  written: number;
  broken: boolean;
}

export async function runSimulation(options: SimulationOptions, onProgress?: (p: Progress) => void): Promise<SimulationStats> {
  const streams = options.streams ?? 4;
  const batch = options.batch ?? 500;
  const sampleEvery = options.sampleEvery ?? 0;
  const maxOpen = options.maxOpenCallsPerSlot ?? 4;
  const { personIds, rate, durationMs, target } = options;
  if (personIds.length === 0) throw new RangeError('personIds must not be empty');
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError('rate must be a positive number');
  if (!(streams >= 1) || !(batch >= 1)) throw new RangeError('streams and batch must be at least 1');
  const venue = options.venue ?? createVenue({ attendees: personIds.length, seed: options.seed ?? 1 });

  // One channel per slot: separate HTTP/2 connections, so one slow stream cannot hold up the others' flow-control window.
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

  // ---------------------------------------------------------------- stream slots
  class Slot {
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
      if (call.written >= batch) this.endCall();
    }

    endCall(): void {
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
            stats.failed += call.written;
            noteError(err ? `${grpc.status[err.code] ?? err.code}: ${err.details}` : 'stream ended without a summary');
            if (err) checkConnection(err, this.client);
          } else {
            stats.acked += summary.accepted;
            stats.rejected += summary.rejected;
            for (const r of summary.rejections.slice(0, FIRST_FEW)) noteRejection(r.eventId, r.reason);
            lastAckAt = Date.now();
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

  const slots = clients.map((c) => new Slot(c));
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
        stats.failed++;
        noteError(`${grpc.status[err.code] ?? err.code}: ${err.details}`);
        checkConnection(err, client);
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
      let slot: Slot | undefined;
      for (let k = 0; k < slots.length && !slot; k++) {
        const s = slots[(nextSlot + k) % slots.length]!;
        if (s.ready) slot = s;
      }
      if (!slot) break; // every slot is blocked: the server is the limit right now
      nextSlot = (slots.indexOf(slot) + 1) % slots.length;
      slot.write(nextPing(now));
    }
  };

  let sendingMs = 0;
  const finishSending = (now: number) => {
    clearInterval(ticker);
    sendingMs = now - startedAt;
    for (const s of slots) s.endCall();
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
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all([...inFlight]).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), options.drainTimeoutMs ?? 60_000))),
    ]);
    clearTimeout(timer);
    if (!drained) {
      noteError(`gave up waiting for ${inFlight.size} call(s) to be acknowledged`);
      for (const call of calls) call.cancel(); // their callbacks count the pings as failed
      await Promise.all([...inFlight]);
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
