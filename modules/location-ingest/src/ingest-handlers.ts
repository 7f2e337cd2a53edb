/**
 * The LocationIngest gRPC handlers: validate, check the person, publish. A stream does not
 * wait for Kafka per ping: each ping joins the publisher's next batch, and the summary is
 * sent once every accepted ping is acknowledged by Kafka.
 */
import { status, type sendUnaryData, type ServerReadableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { checkPing, withEventId, type Logger, type PersonDirectory, type PingProblem, type PingPublisher } from '@udaconnect/common';
import type { LocationIngestServer, LocationPing, RecordAck, StreamSummary } from '@udaconnect/proto';

export interface IngestDeps {
  publisher: PingPublisher;
  persons: PersonDirectory;
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

const KAFKA_DOWN = 'could not hand the ping to Kafka; retry later with the same event_id';

export function createIngestHandlers({ publisher, persons, logger, onKafkaResult }: IngestDeps): LocationIngestServer {
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
      let verdict: Verdict;
      try {
        verdict = await admit(call.request, persons);
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

      call.on('data', (ping: LocationPing) => {
        const i = index++;
        waiting++;
        if (waiting >= MAX_PENDING_PER_STREAM) call.pause();
        const done = () => {
          waiting--;
          if (waiting === MAX_PENDING_PER_STREAM / 2) call.resume();
        };
        pending.push(
          admit(ping, persons)
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
            .catch(() => {
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
