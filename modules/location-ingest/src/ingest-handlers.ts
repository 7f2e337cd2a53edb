/**
 * The LocationIngest gRPC handlers: validate, check the person, publish. A stream does not
 * wait for Kafka per ping: each ping joins the publisher's next batch, and the summary is
 * sent once every accepted ping is acknowledged by Kafka. The summary is bounded (counts by
 * reason and the first MAX_LISTED_REJECTIONS rejections), whatever the stream's length.
 */
import { Metadata, status, type sendUnaryData, type ServerErrorResponse, type ServerReadableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { grpcPrincipal, unaryHandler, type Logger, type Principal, type TokenVerifier } from '@udaconnect/common';
import {
  admitPing,
  decodeBatchBytes,
  decodePingBytes,
  MAX_PINGS_PER_BATCH,
  type PersonDirectory,
  type PingMetrics,
  type PingProblem,
  type PingVerdict,
} from '@udaconnect/domain';
import {
  LocationIngestDefinition,
  type LocationBatch,
  type LocationIngestServer,
  type LocationPing,
  type RecordAck,
  type Rejection,
  type StreamSummary,
} from '@udaconnect/proto';
import type { IngestQuotas, QuotaRefusal } from './quotas';

export interface IngestDeps {
  /** Resolves once Kafka has the ping; rejects while Kafka is down or not connected yet. */
  publisher: { publish(ping: LocationPing): Promise<void> };
  persons: PersonDirectory;
  /** Every call carries `authorization: Bearer <token>` metadata. */
  verifier: TokenVerifier;
  logger: Logger;
  /** Pings per token: per second and per stream. */
  quotas: IngestQuotas;
  /** Each ping's outcome (udaconnect_pings_total). */
  metrics?: Pick<PingMetrics, 'count'>;
  /** Told when a publish fails or succeeds, so health can follow Kafka. */
  onKafkaResult?: (ok: boolean) => void;
}

/**
 * A stream pauses reading while this many of its pings wait (for the person check or Kafka) and
 * resumes at half: gRPC flow control then slows the sender, so one huge stream cannot fill the
 * event loop and the heap ahead of everyone else's pings (about a second of one stream's pings).
 */
const MAX_PENDING_PER_STREAM = 4_000;

/**
 * Messages of one stream handled per turn of the event loop, so a flooding stream cannot hold the
 * loop while other callers' requests wait (a known device's Record during an unknown-id flood:
 * docs/benchmarks.md, "Unknown-person flood").
 */
const MESSAGES_PER_TURN = 64;

/** The gRPC status of a refused ping on Record. */
const STATUS_OF: Record<PingProblem['kind'], status> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  forbidden: status.PERMISSION_DENIED,
};

/** A summary lists at most this many rejections (the first ones, in stream order); docs/contract.md §3.1. */
export const MAX_LISTED_REJECTIONS = 100;

/** Why a ping of a stream was refused, as counted in StreamSummary.rejected_by_reason. */
type RejectionReason = PingProblem['kind'] | 'person_check_unavailable' | 'kafka_unavailable';
const RETRYABLE = new Set<RejectionReason>(['person_check_unavailable', 'kafka_unavailable']);

class ExpiredMidStream extends Error {}

class OverQuota extends Error {
  constructor(
    readonly index: number,
    readonly refusal: QuotaRefusal,
  ) {
    super(`message ${index} is over the quota`);
  }
}

/** RESOURCE_EXHAUSTED, with trailing metadata saying which quota and when to send again (docs/contract.md §3.1). */
function quotaExceeded(refusal: QuotaRefusal, details: string) {
  const metadata = new Metadata();
  metadata.set('quota', refusal.quota);
  metadata.set('retry-after-ms', String(refusal.retryAfterMs));
  return { code: status.RESOURCE_EXHAUSTED, details, metadata };
}

/**
 * What the request deserializer hands over for bytes that are not a LocationPing. grpc-js answers
 * a deserializer that throws with INTERNAL; this lets the handler say INVALID_ARGUMENT instead.
 */
class UndecodablePing {
  constructor(readonly error: string) {}
}

const decodeRequest = (value: Buffer): LocationPing => {
  try {
    // A copy of its own: grpc-js gives no promise about the request's buffer once this returns.
    return decodePingBytes(Buffer.from(value), true);
  } catch (err) {
    return new UndecodablePing((err as Error).message) as unknown as LocationPing;
  }
};

/** The generated service definition, with request decoding that keeps wire-level problems for the handlers. */
export const ingestServiceDefinition = {
  record: { ...LocationIngestDefinition.record, requestDeserialize: decodeRequest },
  recordStream: { ...LocationIngestDefinition.recordStream, requestDeserialize: decodeRequest },
  // A batch may be thousands of pings: its bytes are decoded by the handler, once the token is checked.
  recordBatch: { ...LocationIngestDefinition.recordBatch, requestDeserialize: (value: Buffer) => value as unknown as LocationBatch },
} as const;

const UNDECODABLE_DETAILS = (what: string, err: string, type = 'LocationPing') => `${what} is not a ${type} protobuf (${err.slice(0, 200)})`;

const KAFKA_DOWN = 'could not hand the ping to Kafka; retry later with the same event_id';

export function createIngestHandlers({ publisher, persons, verifier, logger, quotas, metrics, onKafkaResult }: IngestDeps): LocationIngestServer {
  const publish = async (ping: LocationPing) => {
    try {
      await publisher.publish(ping);
      onKafkaResult?.(true);
      metrics?.count('accepted');
    } catch (err) {
      onKafkaResult?.(false);
      metrics?.count('kafka_unavailable');
      logger.warn({ err: (err as Error).message }, 'publish failed');
      throw err;
    }
  };

  /**
   * A ping of a stream or batch: admitted and published, or counted and listed in `summary`; never
   * throws. Nothing more is done once `ended()` (the call failed meanwhile).
   */
  const storePing = async (principal: Principal, ping: LocationPing, index: number, summary: SummaryBuilder, ended = () => false): Promise<void> => {
    let verdict: PingVerdict;
    try {
      verdict = await admitPing(principal, ping, persons);
      if (ended()) return;
    } catch {
      if (ended()) return;
      metrics?.count('person_check_unavailable');
      summary.reject(index, ping.eventId, 'person_check_unavailable', 'cannot check person_id right now; retry later');
      return;
    }
    if (!verdict.ok) {
      metrics?.count(verdict.problem.kind);
      summary.reject(index, ping.eventId, verdict.problem.kind, verdict.problem.reason);
      return;
    }
    try {
      await publish(verdict.ping);
      summary.accepted++;
    } catch {
      // Reported per ping: the device retries exactly these, with the same event ids.
      summary.reject(index, verdict.ping.eventId, 'kafka_unavailable', KAFKA_DOWN);
    }
  };

  /** The caller of a unary call; undefined once the call has been answered UNAUTHENTICATED. */
  const callerOf = async (call: { metadata: Metadata }, callback: (err: ServerErrorResponse) => void): Promise<Principal | undefined> => {
    try {
      return await grpcPrincipal(verifier, call.metadata);
    } catch (err) {
      callback(err as ServerErrorResponse);
      return undefined;
    }
  };

  return {
    record: unaryHandler(logger, async (call: ServerUnaryCall<LocationPing, RecordAck>, callback: sendUnaryData<RecordAck>) => {
      const principal = await callerOf(call, callback);
      if (!principal) return;
      const refusal = await quotas.take(principal);
      if (refusal) {
        metrics?.count('rate_limited');
        return callback(quotaExceeded(refusal, `quota used up (${refusal.limit}): retry after ${refusal.retryAfterMs} ms with the same event_id`));
      }
      if (call.request instanceof UndecodablePing) {
        metrics?.count('invalid');
        return callback({ code: status.INVALID_ARGUMENT, details: UNDECODABLE_DETAILS('the request', call.request.error) });
      }
      let verdict: PingVerdict;
      try {
        verdict = await admitPing(principal, call.request, persons);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'person lookup failed');
        metrics?.count('person_check_unavailable');
        return callback({ code: status.UNAVAILABLE, details: 'cannot check person_id right now; retry later' });
      }
      if (!verdict.ok) {
        metrics?.count(verdict.problem.kind);
        return callback({ code: STATUS_OF[verdict.problem.kind], details: verdict.problem.reason });
      }
      try {
        await publish(verdict.ping);
      } catch {
        return callback({ code: status.UNAVAILABLE, details: KAFKA_DOWN });
      }
      callback(null, { eventId: verdict.ping.eventId });
    }),

    recordBatch: unaryHandler(logger, async (call: ServerUnaryCall<LocationBatch, StreamSummary>, callback: sendUnaryData<StreamSummary>) => {
      const principal = await callerOf(call, callback);
      if (!principal) return;
      let pings: LocationPing[];
      try {
        const batch = decodeBatchBytes(call.request as unknown as Buffer, MAX_PINGS_PER_BATCH);
        if (batch.count > MAX_PINGS_PER_BATCH) {
          return callback({
            code: status.INVALID_ARGUMENT,
            details: `pings: the batch has ${batch.count} pings, at most ${MAX_PINGS_PER_BATCH} are taken at once; split it (nothing was stored)`,
          });
        }
        pings = batch.pings;
      } catch (err) {
        metrics?.count('invalid');
        return callback({ code: status.INVALID_ARGUMENT, details: UNDECODABLE_DETAILS('the request', (err as Error).message, 'LocationBatch') });
      }
      // The whole batch or nothing: its size against the per-call limit, then all its pings from the rate at once.
      const refusal = (pings.length > 0 ? quotas.streamLimit(principal, pings.length - 1) : undefined) ?? (await quotas.take(principal, pings.length));
      if (refusal) {
        metrics?.count('rate_limited');
        return callback(
          quotaExceeded(
            refusal,
            `a batch of ${pings.length} pings is over the quota (${refusal.limit}); nothing was stored: ` +
              (refusal.retryAfterMs > 0 ? `re-send it after ${refusal.retryAfterMs} ms` : 're-send it in smaller batches'),
          ),
        );
      }
      const summary = new SummaryBuilder();
      await Promise.all(pings.map((ping, i) => storePing(principal, ping, i, summary)));
      callback(null, summary.result());
    }),

    recordStream(call: ServerReadableStream<LocationPing, StreamSummary>, callback: sendUnaryData<StreamSummary>) {
      const summary = new SummaryBuilder();
      let outstanding = 0;
      let ended = false;
      let index = 0;
      let failed = false;
      const fail = (err: Parameters<typeof callback>[0]) => {
        if (failed) return;
        failed = true;
        callback(err);
      };
      const finishIfDone = () => {
        if (!ended || outstanding > 0 || failed) return;
        failed = true; // answered: nothing more is sent
        callback(null, summary.result());
      };
      // The token is checked once, before any ping is looked at; pings that arrive meanwhile wait for it.
      const caller = grpcPrincipal(verifier, call.metadata);
      caller.catch((err) => fail(err as Parameters<typeof callback>[0]));
      // Each ping takes its quota after the one before it: once a ping is refused, no later one is admitted.
      let turn = caller;
      const overQuota = ({ index: at, refusal }: OverQuota) => {
        if (failed) return;
        metrics?.count('rate_limited');
        logger.debug({ index: at, quota: refusal.quota }, 'stream over quota');
        const resend = refusal.quota === 'pings_per_second' ? `after ${refusal.retryAfterMs} ms, in shorter streams` : 'in shorter streams';
        fail(
          quotaExceeded(
            refusal,
            `message ${at} of the stream is over the quota (${refusal.limit}); the call is ended, and the pings before it may have been stored: re-send the batch with the same event ids ${resend}`,
          ),
        );
        call.destroy();
      };

      // Reading stops while either reason holds: too many pings waiting, or this turn's share used.
      const pausedFor = new Set<'backlog' | 'turn'>();
      let thisTurn = 0;
      const pause = (reason: 'backlog' | 'turn') => {
        pausedFor.add(reason);
        call.pause();
      };
      const resume = (reason: 'backlog' | 'turn') => {
        if (pausedFor.delete(reason) && pausedFor.size === 0) call.resume();
      };

      call.on('data', (ping: LocationPing) => {
        if (failed) return;
        const i = index++;
        if (ping instanceof UndecodablePing) {
          // The pings before it may be in Kafka already: the device re-sends the batch with the same event ids.
          metrics?.count('invalid');
          logger.debug({ index: i }, 'undecodable message in a stream');
          fail({
            code: status.INVALID_ARGUMENT,
            details: `${UNDECODABLE_DETAILS(`message ${i} of the stream`, ping.error)}; the call is ended, and the pings before it may have been stored: re-send the batch with the same event ids`,
          });
          call.destroy();
          return;
        }
        outstanding++;
        if (outstanding >= MAX_PENDING_PER_STREAM) pause('backlog');
        // A turn of the event loop takes at most MESSAGES_PER_TURN of one stream's messages, then
        // lets the other calls' I/O run (setImmediate comes after the poll phase).
        if (++thisTurn === MESSAGES_PER_TURN) {
          pause('turn');
          setImmediate(() => {
            thisTurn = 0;
            resume('turn');
          });
        }
        const done = () => {
          outstanding--;
          if (outstanding === MAX_PENDING_PER_STREAM / 2) resume('backlog');
          finishIfDone();
        };
        const admitted = (turn = turn.then(async (principal) => {
          if (!verifier.isCurrent(principal)) throw new ExpiredMidStream();
          const refusal = quotas.streamLimit(principal, i) ?? (await quotas.take(principal));
          if (refusal) throw new OverQuota(i, refusal);
          return principal;
        }));
        admitted
          .then(
            (principal) => storePing(principal, ping, i, summary, () => failed),
            (err) => {
              if (err instanceof ExpiredMidStream) {
                fail({ code: status.UNAUTHENTICATED, details: 'the token expired or was revoked during the stream' });
                return;
              }
              if (err instanceof OverQuota) return overQuota(err);
              // A refused token has already ended the call (above).
            },
          )
          .finally(done);
      });
      // Cancelled or broken by the client: pings not yet handed to Kafka are dropped (docs/contract.md §3.1).
      call.on('cancelled', () => {
        failed = true;
        logger.debug('stream cancelled by client');
      });
      call.on('error', (err) => {
        failed = true;
        logger.debug({ err: err.message }, 'stream aborted by client');
      });
      call.on('end', () => {
        ended = true;
        finishIfDone();
      });
    },
  };
}

/**
 * The summary of a stream or batch, bounded whatever its length: the lowest indices seen so far (at
 * most twice the listed number before trimming), and one count per reason.
 */
class SummaryBuilder {
  accepted = 0;
  private rejected = 0;
  private listed: Rejection[] = [];
  private readonly byReason = new Map<RejectionReason, number>();

  reject(index: number, eventId: string, reason: RejectionReason, text: string): void {
    this.rejected++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    this.listed.push({ index, eventId, reason: text, retryable: RETRYABLE.has(reason) });
    if (this.listed.length >= 2 * MAX_LISTED_REJECTIONS) this.listed = firstRejections(this.listed);
  }

  result(): StreamSummary {
    const rejections = firstRejections(this.listed);
    return {
      accepted: this.accepted,
      rejected: this.rejected,
      rejections,
      rejectedByReason: Object.fromEntries(this.byReason),
      rejectionsTruncated: this.rejected > rejections.length,
    };
  }
}

/** The first MAX_LISTED_REJECTIONS rejections, in stream order. */
function firstRejections(list: Rejection[]): Rejection[] {
  return list.sort((a, b) => a.index - b.index).slice(0, MAX_LISTED_REJECTIONS);
}
