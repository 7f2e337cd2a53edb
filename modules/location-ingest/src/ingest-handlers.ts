/**
 * The LocationIngest gRPC handlers: validate, check the person, publish. A stream does not
 * wait for Kafka per ping: each ping joins the publisher's next batch, and the summary is
 * sent once every accepted ping is acknowledged by Kafka.
 */
import { status, type sendUnaryData, type ServerReadableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  checkPing,
  grpcAuthError,
  grpcPrincipal,
  withEventId,
  ForbiddenError,
  type Logger,
  type PersonDirectory,
  type PingProblem,
  type PingPublisher,
  type Principal,
  type TokenVerifier,
} from '@udaconnect/common';
import type { LocationIngestServer, LocationPing, RecordAck, StreamSummary } from '@udaconnect/proto';

export interface IngestDeps {
  publisher: PingPublisher;
  persons: PersonDirectory;
  /** Every call carries `authorization: Bearer <token>` metadata. */
  verifier: TokenVerifier;
  logger: Logger;
  /** Told when a publish fails or succeeds, so health can follow Kafka. */
  onKafkaResult?: (ok: boolean) => void;
}

/** Streams pause reading when this many pings wait for Kafka, and resume at half. */
const MAX_PENDING_PER_STREAM = 20_000;

type Verdict = { ok: true; ping: LocationPing } | { ok: false; problem: PingProblem };

async function admit(ping: LocationPing, persons: PersonDirectory): Promise<Verdict> {
  const problem = checkPing(ping);
  if (problem) return { ok: false, problem };
  if (!(await persons.exists(ping.personId))) {
    return { ok: false, problem: { field: 'person_id', reason: `person_id: no person with id ${ping.personId}`, kind: 'not_found' } };
  }
  return { ok: true, ping: withEventId(ping) };
}

class ExpiredMidStream extends Error {}

const KAFKA_DOWN = 'could not hand the ping to Kafka; retry later with the same event_id';

/**
 * The ping as this caller may send it: an attendee's token sends for its own person only (a
 * person_id of 0 means "mine"); an organizer's for anyone; a service token for no one.
 */
function pingForCaller(principal: Principal, ping: LocationPing): { ok: true; ping: LocationPing } | { ok: false; reason: string } {
  if (principal.role === 'service') return { ok: false, reason: 'a service token may not send pings' };
  if (principal.role === 'organizer') return { ok: true, ping };
  if (ping.personId === 0) return { ok: true, ping: { ...ping, personId: principal.personId } };
  if (ping.personId !== principal.personId) {
    return { ok: false, reason: `person_id: this device's token sends pings for person ${principal.personId} only, not ${ping.personId}` };
  }
  return { ok: true, ping };
}

export function createIngestHandlers({ publisher, persons, verifier, logger, onKafkaResult }: IngestDeps): LocationIngestServer {
  const publish = async (ping: LocationPing) => {
    try {
      await publisher.publish(ping);
      onKafkaResult?.(true);
    } catch (err) {
      onKafkaResult?.(false);
      logger.warn({ err: (err as Error).message }, 'publish failed');
      throw err;
    }
  };

  return {
    async record(call: ServerUnaryCall<LocationPing, RecordAck>, callback: sendUnaryData<RecordAck>) {
      let principal: Principal;
      try {
        principal = await grpcPrincipal(verifier, call.metadata);
      } catch (err) {
        return callback(err as Parameters<typeof callback>[0]);
      }
      const mine = pingForCaller(principal, call.request);
      if (!mine.ok) return callback(grpcAuthError(new ForbiddenError(mine.reason)));
      let verdict: Verdict;
      try {
        verdict = await admit(mine.ping, persons);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'person lookup failed');
        return callback({ code: status.UNAVAILABLE, details: 'cannot check person_id right now; retry later' });
      }
      if (!verdict.ok) {
        const code = verdict.problem.kind === 'not_found' ? status.NOT_FOUND : status.INVALID_ARGUMENT;
        return callback({ code, details: verdict.problem.reason });
      }
      try {
        await publish(verdict.ping);
      } catch {
        return callback({ code: status.UNAVAILABLE, details: KAFKA_DOWN });
      }
      callback(null, { eventId: verdict.ping.eventId });
    },

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
              const mine = pingForCaller(principal, ping);
              if (!mine.ok) return { ok: false as const, problem: { field: 'person_id', reason: mine.reason, kind: 'invalid' as const } };
              return admit(mine.ping, persons);
            })
            .then(async (verdict) => {
              if (!verdict.ok) {
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
