/**
 * The attendee's presence answers (docs/architecture.md, "Where presence and meetings come from"):
 * which places a person visited and which talks they attended during an event, and whom they share
 * them (or a meeting) with. Visits and attendance are read
 * from what location-writer derived (cheap); meetings are counted from one proximity query per
 * request, with the same rule (domain meetings.ts) the live stream applies.
 */
import { notFound } from '@udaconnect/common';
import type { EventRecord } from './event-schemas';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';
import type { EventRepository } from './event-repository';
import type { PersonRepository } from './person-repository';
import { personIdParams } from './person-schemas';
import type { PresenceRepository } from './presence-repository';
import { presenceQuery, sharedSchema, visitsSchema, type Shared } from './presence-schemas';

/** Minutes with one decimal. */
const minutes = (seconds: number) => Math.round(seconds / 6) / 10;

export interface PresenceRouteDeps {
  persons: PersonRepository;
  events: EventRepository;
  presence: PresenceRepository;
  /** Meetings per other person in the event (meetings.ts's rule over the proximity matches). */
  countMeetings(personId: number, event: EventRecord): Promise<Map<number, number>>;
}

export function addPresenceRoutes(ctx: RouteContext, deps: PresenceRouteDeps): void {
  const tags = ['Presence'];
  /** The person and the event, or 404 naming which is missing. */
  const personAndEvent = async (personId: number, eventId: number) => {
    const [person, event] = await Promise.all([deps.persons.findById(personId), deps.events.findEvent(eventId)]);
    if (!person) throw notFound(`No person with id ${personId}`);
    if (!event) throw notFound(`No event with id ${eventId}`);
    return { person, event };
  };

  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/visits',
    summary: 'The places a person visited and the sessions they attended during an event',
    description:
      'Derived from their pings as they arrive (location-writer, within seconds). A **visit**: consecutive pings inside a ' +
      "place's area, no two more than 5 minutes apart, spanning at least 2 minutes. A session is **attended** when the person " +
      'was inside its room for at least half of it, each ping standing for the time until their next one, at most 5 minutes.',
    tags,
    access: access.ownPerson,
    params: personIdParams,
    query: presenceQuery,
    responses: {
      200: jsonResponse('Places visited (by first_seen) and sessions attended (by start)', visitsSchema),
      400: problemResponse('A missing or bad event_id'),
      404: problemResponse('No person with this id, or no event with this event_id'),
    },
    handler: async ({ params, query, res }) => {
      await personAndEvent(params.id, query.event_id);
      const [places, sessions] = await Promise.all([
        deps.presence.placesVisited(params.id, query.event_id),
        deps.presence.sessionsAttended(params.id, query.event_id),
      ]);
      res.json({
        event_id: query.event_id,
        person_id: params.id,
        places: places.map((p) => ({
          place: p.place,
          first_seen: p.firstSeen.toISOString(),
          last_seen: p.lastSeen.toISOString(),
          minutes: minutes(p.seconds),
          visits: p.visits,
        })),
        sessions: sessions.map((s) => ({ session: s.session, minutes_inside: minutes(s.secondsInside) })),
      });
    },
  });

  addRoute(ctx, {
    method: 'get',
    path: '/api/persons/{id}/shared',
    summary: 'Who shares places, sessions or meetings with a person during an event',
    description:
      'One entry per other person who visited a place this person visited during the event (not necessarily together), attended ' +
      'a session they attended, or met them: pings within 5 meters and 60 seconds of each other, counted once per place per 30 ' +
      'minutes by default (the rule of the live stream, GET /api/persons/{id}/meetings/live). Most shared first. Persons who opted out of ' +
      'discovery are left out.',
    tags,
    access: access.ownPerson,
    params: personIdParams,
    query: presenceQuery,
    responses: {
      200: jsonResponse('The persons sharing something with this one, most shared first', sharedSchema),
      400: problemResponse('A missing or bad event_id'),
      404: problemResponse('No person with this id, or no event with this event_id'),
    },
    handler: async ({ params, query, res }) => {
      const { event } = await personAndEvent(params.id, query.event_id);
      const [rows, meetings] = await Promise.all([deps.presence.shared(params.id, event.id), deps.countMeetings(params.id, event)]);
      const others = new Set([...rows.places.keys(), ...rows.sessions.keys(), ...meetings.keys()]);
      const people = await deps.persons.findSummaries([...others]);
      const shared: Shared['shared'] = [];
      for (const person of people) {
        shared.push({
          person,
          places: rows.places.get(person.id) ?? [],
          sessions: rows.sessions.get(person.id) ?? [],
          meetings: meetings.get(person.id) ?? 0,
        });
      }
      const weight = (s: Shared['shared'][number]) => s.places.length + s.sessions.length + s.meetings;
      shared.sort((a, b) => weight(b) - weight(a) || a.person.id - b.person.id);
      res.json({ event_id: event.id, person_id: params.id, shared });
    },
  });
}
