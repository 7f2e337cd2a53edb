/**
 * Events and venues (docs/contract.md §2.3): organizers create an event, its places (booths, rooms, areas as
 * GeoJSON polygons) and its sessions, one by one or a whole venue in one request; anyone signed
 * in reads them (attendees need the floor plan).
 */
import { z } from 'zod';
import { notFound } from '@udaconnect/common';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import type { EventRepository } from './event-repository';
import {
  EVENT_MAX_DAYS,
  eventIdParams,
  eventSchema,
  IMPORT_PLACES_MAX,
  IMPORT_SESSIONS_MAX,
  newEventSchema,
  newPlaceSchema,
  newSessionSchema,
  placeIdParams,
  placeSchema,
  sessionIdParams,
  sessionSchema,
  venueImportSchema,
  venueSchema,
} from './event-schemas';

/** Larger bodies than BODY_LIMIT (app.ts): a polygon of 1,000 positions (about 45 kB), a whole venue. */
export const LARGE_BODY_LIMITS = { '/api/events/:event_id/places': '64kb', '/api/events/:event_id/venue': '2mb' } as const;

export function addEventRoutes(ctx: RouteContext, events: EventRepository): void {
  const tags = ['Events and venues'];
  const noEvent = (id: number) => notFound(`No event with id ${id}`);
  const eventOr404 = async (id: number) => {
    const event = await events.findEvent(id);
    if (!event) throw noEvent(id);
    return event;
  };

  addRoute(ctx, {
    method: 'post',
    path: '/api/events',
    summary: 'Create an event',
    description: `\`ends_at\` is after \`starts_at\`, at most ${EVENT_MAX_DAYS} days later.`,
    tags,
    access: access.organizer,
    body: newEventSchema,
    responses: { 201: jsonResponse('The created event', eventSchema), 400: problemResponse('A missing or bad field, or ends_at not after starts_at') },
    handler: async ({ body, res }) => {
      const event = await events.createEvent(body);
      res.status(201).location(`/api/events/${event.id}`).json(event);
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events',
    summary: 'List events, ordered by id',
    tags,
    access: access.signedIn,
    responses: { 200: jsonResponse('The events', z.array(eventSchema)) },
    handler: async ({ res }) => void res.json(await events.listEvents()),
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events/{event_id}',
    summary: 'Get one event',
    tags,
    access: access.signedIn,
    params: eventIdParams,
    responses: { 200: jsonResponse('The event', eventSchema), 404: problemResponse('No event with this id') },
    handler: async ({ params, res }) => void res.json(await eventOr404(params.event_id)),
  });

  addRoute(ctx, {
    method: 'post',
    path: '/api/events/{event_id}/places',
    summary: 'Add a place (booth, room or area) to an event',
    description:
      'The area is a GeoJSON Polygon, positions [longitude, latitude]. PostGIS checks that it is a valid polygon; if not (a ring that ' +
      'crosses itself, a hole outside the outer ring, …) the 400 gives its reason. Names are unique within the event. Bodies up to 64 kB (this route).',
    tags,
    access: access.organizer,
    params: eventIdParams,
    body: newPlaceSchema,
    responses: {
      201: jsonResponse('The created place', placeSchema),
      400: problemResponse('A missing or bad field, an invalid polygon (with the reason), or a name the event already has'),
      404: problemResponse('No event with this id'),
      413: problemResponse(`Body larger than ${LARGE_BODY_LIMITS['/api/events/:event_id/places']}`),
    },
    handler: async ({ params, body, res }) => {
      await eventOr404(params.event_id);
      const place = await events.createPlace(params.event_id, body);
      res.status(201).location(`/api/events/${params.event_id}/places/${place.id}`).json(place);
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events/{event_id}/places',
    summary: "An event's places (the floor plan), ordered by id",
    tags,
    access: access.signedIn,
    params: eventIdParams,
    responses: { 200: jsonResponse('The places', z.array(placeSchema)), 404: problemResponse('No event with this id') },
    handler: async ({ params, res }) => {
      await eventOr404(params.event_id);
      res.json(await events.listPlaces(params.event_id));
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events/{event_id}/places/{place_id}',
    summary: 'Get one place of an event',
    tags,
    access: access.signedIn,
    params: placeIdParams,
    responses: { 200: jsonResponse('The place', placeSchema), 404: problemResponse('No event with this id, or no place with this id in it') },
    handler: async ({ params, res }) => {
      await eventOr404(params.event_id);
      const place = await events.findPlace(params.event_id, params.place_id);
      if (!place) throw notFound(`Event ${params.event_id} has no place with id ${params.place_id}`);
      res.json(place);
    },
  });

  addRoute(ctx, {
    method: 'post',
    path: '/api/events/{event_id}/sessions',
    summary: 'Add a session (a talk) in a place of an event',
    description:
      'The place is one of this event; the session lies within the event and overlaps no other session in that place ' +
      '(one may start when the previous one ends). A 400 names the session it would overlap.',
    tags,
    access: access.organizer,
    params: eventIdParams,
    body: newSessionSchema,
    responses: {
      201: jsonResponse('The created session', sessionSchema),
      400: problemResponse('A missing or bad field, a place not of this event, a time outside the event, or an overlap with another session'),
      404: problemResponse('No event with this id'),
    },
    handler: async ({ params, body, res }) => {
      await eventOr404(params.event_id);
      const session = await events.createSession(params.event_id, body);
      res.status(201).location(`/api/events/${params.event_id}/sessions/${session.id}`).json(session);
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events/{event_id}/sessions',
    summary: "An event's sessions, ordered by start time",
    tags,
    access: access.signedIn,
    params: eventIdParams,
    responses: { 200: jsonResponse('The sessions', z.array(sessionSchema)), 404: problemResponse('No event with this id') },
    handler: async ({ params, res }) => {
      await eventOr404(params.event_id);
      res.json(await events.listSessions(params.event_id));
    },
  });
  addRoute(ctx, {
    method: 'get',
    path: '/api/events/{event_id}/sessions/{session_id}',
    summary: 'Get one session of an event',
    tags,
    access: access.signedIn,
    params: sessionIdParams,
    responses: { 200: jsonResponse('The session', sessionSchema), 404: problemResponse('No event with this id, or no session with this id in it') },
    handler: async ({ params, res }) => {
      await eventOr404(params.event_id);
      const session = await events.findSession(params.event_id, params.session_id);
      if (!session) throw notFound(`Event ${params.event_id} has no session with id ${params.session_id}`);
      res.json(session);
    },
  });

  addRoute(ctx, {
    method: 'post',
    path: '/api/events/{event_id}/venue',
    summary: 'Import a venue: places and sessions in one request',
    description:
      `Up to ${IMPORT_PLACES_MAX} places and ${IMPORT_SESSIONS_MAX} sessions, in a body of up to 2 MB (this route only). A session names its ` +
      'place: one of this import or one the event already has. The rules of the single POSTs hold; anything wrong and nothing is ' +
      'stored: the 400 names each item (`sessions.3.starts_at`), the first 50 of them.',
    tags,
    access: access.organizer,
    params: eventIdParams,
    body: venueImportSchema,
    responses: {
      201: jsonResponse('The places and sessions stored, in the order given', venueSchema),
      400: problemResponse('An item is wrong (each named in errors); nothing was stored'),
      404: problemResponse('No event with this id'),
      413: problemResponse(`Body larger than ${LARGE_BODY_LIMITS['/api/events/:event_id/venue']}`),
    },
    handler: async ({ params, body, res }) => {
      await eventOr404(params.event_id);
      res.status(201).json(await events.importVenue(params.event_id, body));
    },
  });
}
