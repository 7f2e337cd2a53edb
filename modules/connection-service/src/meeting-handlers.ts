/**
 * Meetings/Watch: who may watch whom (the rule of ConnectionService: an attendee's token for its own
 * person, organizers and person-api's service token for anyone), then the stream is registered with
 * the feed until the caller cancels or the server shuts down.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { ForbiddenError, GrpcStatusError, grpcAuthError, grpcPrincipal, mayActFor, type Logger, type TokenVerifier } from '@udaconnect/common';
import type { MeetingsServer } from '@udaconnect/proto';
import type { MeetingFeed } from './meeting-feed';
import type { WatchCall } from './meeting-watchers';

/** Streams one attendee token subject may have open for its person at once. */
const MAX_STREAMS_PER_ATTENDEE = 4;

export interface MeetingHandlerDeps {
  /** Undefined when live meetings are turned off (MEETINGS_ENABLED=false or no KAFKA_BROKERS). */
  feed: MeetingFeed | undefined;
  verifier: TokenVerifier;
  logger: Logger;
}

export function createMeetingHandlers({ feed, verifier, logger }: MeetingHandlerDeps): MeetingsServer {
  const refuse = (call: WatchCall, code: status, details: string) => {
    if (!call.cancelled) call.emit('error', new GrpcStatusError(code, details));
  };

  async function watch(call: WatchCall): Promise<void> {
    let principal;
    try {
      principal = await grpcPrincipal(verifier, call.metadata);
    } catch (err) {
      if (err instanceof GrpcStatusError) return refuse(call, err.code, err.details);
      throw err;
    }
    if (!feed) return refuse(call, status.UNIMPLEMENTED, 'live meetings are turned off on this server (MEETINGS_ENABLED=false, or KAFKA_BROKERS unset)');

    const asked = call.request.personId;
    if (asked === undefined && principal.role !== 'attendee') {
      return refuse(call, status.INVALID_ARGUMENT, 'person_id: is required with an organizer or service token');
    }
    const personId = asked ?? (principal as { personId: number }).personId;
    if (!Number.isInteger(personId) || personId <= 0) return refuse(call, status.INVALID_ARGUMENT, `person_id: must be a positive person id, got ${personId}`);
    if (!mayActFor(principal, personId)) {
      const err = grpcAuthError(new ForbiddenError(`this token may watch only the meetings of its own person, not ${personId}`));
      return refuse(call, err.code, err.details);
    }
    if (feed.state === 'connecting')
      return refuse(call, status.UNAVAILABLE, 'live meetings are not available yet (Kafka or the database unreachable); retry later');

    let person;
    try {
      person = (await feed.directory.persons([personId])).get(personId);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'database unavailable');
      return refuse(call, status.UNAVAILABLE, 'the database is unavailable; retry later');
    }
    if (!person) return refuse(call, status.NOT_FOUND, `person_id: no person with id ${personId}`);
    if (principal.role === 'attendee' && feed.watchers.countFor(personId, principal.subject) >= MAX_STREAMS_PER_ATTENDEE) {
      return refuse(call, status.RESOURCE_EXHAUSTED, `this token already has ${MAX_STREAMS_PER_ATTENDEE} meeting streams open; close one first`);
    }
    if (call.cancelled) return;
    if (!feed.accepting) return refuse(call, status.UNAVAILABLE, 'the server is shutting down; call again');
    feed.watchers.add(personId, principal, call);
    // Headers now, not with the first meeting: the caller knows the stream is open.
    call.sendMetadata(new Metadata());
    logger.debug({ personId, role: principal.role }, 'meeting stream opened');
  }

  return {
    watch(call) {
      watch(call).catch((err: unknown) => {
        logger.error({ err }, 'Meetings/Watch failed');
        refuse(call, status.INTERNAL, 'internal error');
      });
    },
  };
}
