/**
 * In-memory stand-ins for person-api's collaborators, so route and validation tests run without
 * Kafka (integration tests pass `kafka: true` to the harness and get the real publisher).
 */
import type { Knex } from 'knex';
import type { LocationPing } from '@udaconnect/domain';
import type { Meeting } from '@udaconnect/proto';
import type { MeetingStreamHandlers, MeetingWatcher } from '../src/meeting-client';
import type { PingPublishing } from '../src/pings';

export class InMemoryPingPublishing implements PingPublishing {
  /** Every ping handed over, in order. */
  readonly published: LocationPing[] = [];
  /** While false, publish() fails as a Kafka outage does and isReachable() says so. */
  reachable = true;

  constructor(private readonly knex: Knex) {}

  readonly publisher = {
    publish: async (ping: LocationPing) => {
      if (!this.reachable) throw new Error('Kafka is unreachable (in-memory publisher switched off)');
      this.published.push(ping);
    },
  };

  /** The person check reads the test database, as the real cache does on a miss. */
  readonly personDirectory = {
    exists: async (personId: number) => Boolean(await this.knex('person').where({ id: personId }).first('id')),
    forget: () => undefined,
  };

  isReachable = async () => this.reachable;
  close = async () => undefined;
}

/** Meetings/Watch in memory: each watch() is recorded; `emit` and `end` drive the open streams. */
export class InMemoryMeetingWatcher implements MeetingWatcher {
  readonly streams: Array<{ personId: number; authorization: string; handlers: MeetingStreamHandlers; cancelled: boolean }> = [];

  watch(personId: number, authorization: string, handlers: MeetingStreamHandlers) {
    const stream = { personId, authorization, handlers, cancelled: false };
    this.streams.push(stream);
    return { cancel: () => void (stream.cancelled = true) };
  }

  /** Sends `meeting` on every open stream of `personId`. */
  emit(personId: number, meeting: Meeting): void {
    for (const s of this.streams) if (s.personId === personId && !s.cancelled) s.handlers.onMeeting(meeting);
  }

  close = () => undefined;
}
