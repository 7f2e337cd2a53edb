/**
 * GET /api/persons/{id}/meetings/live: the person's live meetings as Server-Sent Events, relayed
 * from connection-service's Meetings/Watch stream (docs/decisions.md, "The page's live stream is SSE
 * relayed from gRPC, with the caller's own token"). One `meeting` event per meeting; a comment every
 * 15 s keeps proxies from closing an idle stream; when the upstream stream ends, an `end` event says
 * why and the response ends (the client reconnects, EventSource-style).
 */
import { z } from 'zod';
import * as grpc from '@grpc/grpc-js';
import { notFound } from '@udaconnect/common';
import type { Meeting } from '@udaconnect/proto';
import { access } from './http/access';
import { addRoute, problemResponse, type RouteContext } from './http/typed-routes';
import type { MeetingWatcher } from './meeting-client';
import type { PersonRepository } from './person-repository';
import { personIdParams } from './person-schemas';

const KEEP_ALIVE_MS = 15_000;

/** The `data` of a `meeting` event (JSON). */
interface LiveMeeting {
  other_person: { id: number; first_name: string; last_name: string };
  /** recorded_at of the later of the two pings. */
  at: string;
  /** The place whose area holds the midpoint of the two pings; null outside every place. */
  place: { id: number; name: string } | null;
  event_id: number | null;
  latitude: number;
  longitude: number;
  distance_meters: number;
}

const DATA_FIELDS =
  '`{"other_person": {"id", "first_name", "last_name"}, "at": recorded_at of the later ping (ISO 8601), "place": {"id", "name"} or null ' +
  '(outside every place), "event_id": number or null, "latitude", "longitude": the midpoint, "distance_meters"}`';

const toLive = (m: Meeting): LiveMeeting => ({
  other_person: { id: m.otherPersonId, first_name: m.otherFirstName, last_name: m.otherLastName },
  at: m.at!.toISOString(),
  place: m.placeId === undefined ? null : { id: m.placeId, name: m.placeName },
  event_id: m.eventId ?? null,
  latitude: m.latitude,
  longitude: m.longitude,
  distance_meters: Math.round(m.distanceMeters * 100) / 100,
});

/** One SSE message: `event`, then the data on one line (JSON has no raw newlines). */
const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function addMeetingRoutes(ctx: RouteContext, deps: { persons: PersonRepository; watcher: MeetingWatcher }): void {
  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/meetings/live',
    summary: 'Live "you just met" notifications, as Server-Sent Events',
    description:
      "`text/event-stream`. Each meeting is an `event: meeting` whose `data` is a LiveMeeting (JSON): two persons' pings within 5 meters " +
      "and 60 seconds, told once per pair and place per 30 minutes (by default: connection-service's MEETING_* settings), within about 2 seconds of the later ping. A comment line (`: keep-alive`) " +
      'comes every 15 s. When the stream ends on the server side (a restart, an expired token) an `event: end` with `{reason}` comes last: ' +
      'connect again after a pause. Persons who opted out of discovery are never announced. The Authorization header is needed, so read it ' +
      'with fetch() rather than EventSource.',
    tags: ['Presence'],
    access: access.ownPerson,
    params: personIdParams,
    responses: {
      200: {
        description: 'The stream: `event: meeting` messages, keep-alive comments, a final `event: end`',
        // OpenAPI 3.0 cannot describe a stream of events: a string, and each event's data in words.
        content: { 'text/event-stream': { schema: z.string().meta({ description: `event: meeting / data: ${DATA_FIELDS} / a blank line; repeated` }) } },
      },
      404: problemResponse('No person with this id'),
    },
    handler: async ({ params, req, res }) => {
      if (!(await deps.persons.findById(params.id))) throw notFound(`No person with id ${params.id}`);
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      res.write(': connected\n\n');
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      keepAlive.unref();
      const stream = deps.watcher.watch(params.id, req.headers.authorization!, {
        onMeeting: (m) => void res.write(sse('meeting', toLive(m))),
        onEnd: (error) => {
          clearInterval(keepAlive);
          const reason = error ? `${grpc.status[error.code] ?? error.code}: ${error.details}` : 'the server closed the stream; connect again';
          res.end(sse('end', { reason }));
        },
      });
      res.on('close', () => {
        clearInterval(keepAlive);
        stream.cancel();
      });
    },
  });
}
