/**
 * person-api's side of udaconnect.meeting.v1.Meetings/Watch (connection-service): the stream the
 * page's GET /api/persons/{id}/meetings/live relays. The REST caller's own token is forwarded,
 * so connection-service applies its rules (an attendee watches their own person only).
 */
import * as grpc from '@grpc/grpc-js';
import { MeetingsClient, type Meeting } from '@udaconnect/proto';

interface MeetingStream {
  /** Stops the stream (the REST client went away). */
  cancel(): void;
}

export interface MeetingStreamHandlers {
  onMeeting(meeting: Meeting): void;
  /** The stream ended: `error` undefined when the server closed it cleanly (a shutdown: watch again). */
  onEnd(error?: { code: grpc.status; details: string }): void;
}

export interface MeetingWatcher {
  watch(personId: number, authorization: string, handlers: MeetingStreamHandlers): MeetingStream;
  close(): void;
}

export function meetingWatcher(address: string): MeetingWatcher {
  const client = new MeetingsClient(address, grpc.credentials.createInsecure());
  return {
    watch(personId, authorization, handlers) {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', authorization);
      const call = client.watch({ personId }, metadata);
      let ended = false;
      const end = (error?: { code: grpc.status; details: string }) => {
        if (ended) return;
        ended = true;
        handlers.onEnd(error);
      };
      call.on('data', (meeting: Meeting) => handlers.onMeeting(meeting));
      call.on('error', (err: grpc.ServiceError) => end(err.code === grpc.status.CANCELLED ? undefined : { code: err.code, details: err.details }));
      call.on('end', () => end());
      return {
        cancel() {
          ended = true;
          call.cancel();
        },
      };
    },
    close: () => client.close(),
  };
}
