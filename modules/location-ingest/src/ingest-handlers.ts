/**
 * The LocationIngest gRPC handlers: validate, check the person, publish. A stream does not
 * wait for Kafka per ping: each ping joins the publisher's next batch, and the summary is
 * sent once every accepted ping is acknowledged by Kafka.
 */
import { status, type sendUnaryData, type ServerReadableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { grpcPrincipal, unaryHandler, type Logger, type Principal, type TokenVerifier } from '@udaconnect/common';
import { admitPing, type PersonDirectory, type PingMetrics, type PingProblem, type PingVerdict } from '@udaconnect/domain';
import type { LocationIngestServer, LocationPing, RecordAck, StreamSummary } from '@udaconnect/proto';

export interface IngestDeps {
  /** Resolves once Kafka has the ping; rejects while Kafka is down or not connected yet. */
  publisher: { publish(ping: LocationPing): Promise<void> };
  persons: PersonDirectory;
  /** Every call carries `authorization: Bearer <token>` metadata. */
  verifier: TokenVerifier;
  logger: Logger;
  /** Each ping's outcome (udaconnect_pings_total). */
  metrics?: Pick<PingMetrics, 'count'>;
  /** Told when a publish fails or succeeds, so health can follow Kafka. */
  onKafkaResult?: (ok: boolean) => void;
}

/** Streams pause reading when this many pings wait for Kafka, and resume at half. */
const MAX_PENDING_PER_STREAM = 20_000;

/** The gRPC status of a refused ping on Record. */
const STATUS_OF: Record<PingProblem['kind'], status> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  forbidden: status.PERMISSION_DENIED,
};

class ExpiredMidStream extends Error {}

const KAFKA_DOWN = 'could not hand the ping to Kafka; retry later with the same event_id';

export function createIngestHandlers({ publisher, persons, verifier, logger, metrics, onKafkaResult }: IngestDeps): LocationIngestServer {
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

  return {
    record: unaryHandler(logger, async (call: ServerUnaryCall<LocationPing, RecordAck>, callback: sendUnaryData<RecordAck>) => {
      let principal: Principal;
      try {
        principal = await grpcPrincipal(verifier, call.metadata);
      } catch (err) {
        return callback(err as Parameters<typeof callback>[0]);
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

    recordStream(call: ServerReadableStream<LocationPing, StreamSummary>, callback: sendUnaryData<StreamSummary>) {
      const rejections: StreamSummary['rejections'] = [];
      const pending: Array<Promise<void>> = [];
      let accepted = 0;
      let index = 0;
      let waiting = 0;
      let failed = false;
      // The token is checked once, before any ping is looked at; pings that arrive meanwhile wait for it.
      const caller = grpcPrincipal(verifier, call.metadata);
      caller.catch((err) => {
        failed = true;
        callback(err as Parameters<typeof callback>[0]);
      });

      call.on('data', (ping: LocationPing) => {
        if (failed) return;
        const i = index++;
        waiting++;
        if (waiting >= MAX_PENDING_PER_STREAM) call.pause();
        const done = () => {
          waiting--;
          if (waiting === MAX_PENDING_PER_STREAM / 2) call.resume();
        };
        pending.push(
          caller
            .then((principal) => {
              if (!verifier.isCurrent(principal)) throw new ExpiredMidStream();
              return admitPing(principal, ping, persons);
            })
            .then(async (verdict) => {
              if (!verdict.ok) {
                metrics?.count(verdict.problem.kind);
                rejections.push({ index: i, eventId: ping.eventId, reason: verdict.problem.reason });
                return;
              }
              try {
                await publish(verdict.ping);
                accepted++;
              } catch {
                // Reported per ping: the device retries exactly these, with the same event ids.
                rejections.push({ index: i, eventId: verdict.ping.eventId, reason: KAFKA_DOWN });
              }
            })
            .catch((err) => {
              if (err instanceof ExpiredMidStream) {
                if (!failed) callback({ code: status.UNAUTHENTICATED, details: 'the token expired or was revoked during the stream' });
                failed = true;
                return;
              }
              // A refused token has already ended the call (above).
              if (failed) return;
              metrics?.count('person_check_unavailable');
              rejections.push({ index: i, eventId: ping.eventId, reason: 'cannot check person_id right now; retry later' });
            })
            .finally(done),
        );
      });
      call.on('error', (err) => {
        failed = true;
        logger.debug({ err: err.message }, 'stream aborted by client');
      });
      call.on('end', () => {
        void Promise.all(pending).then(() => {
          if (failed) return;
          rejections.sort((a, b) => a.index - b.index);
          callback(null, { accepted, rejected: rejections.length, rejections });
        });
      });
    },
  };
}
