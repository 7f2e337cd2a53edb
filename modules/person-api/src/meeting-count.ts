/**
 * The `meetings` of GET /api/persons/{id}/shared: every pair of pings (the person's and another's)
 * within the meeting distance and window during the event — one proximity query — located in the
 * event's places and counted with the live stream's own rule (domain meetings.ts: once per pair and
 * place per cooldown), so the count and the notifications agree.
 */
import type { Knex } from '@udaconnect/common';
import { countMeetings, PlaceIndex, type MeetingRules } from '@udaconnect/domain';
import { eventRepository } from './event-repository';
import type { EventRecord } from './event-schemas';
import { presenceRepository } from './presence-repository';

export function meetingCounter(knex: Knex, rules: MeetingRules) {
  const presence = presenceRepository(knex);
  const events = eventRepository(knex);
  return async (personId: number, event: EventRecord): Promise<Map<number, number>> => {
    const start = new Date(event.starts_at);
    const end = new Date(event.ends_at);
    const [matches, places] = await Promise.all([
      presence.meetingMatches(personId, start, end, rules.distanceMeters, rules.windowMs),
      events.listPlaces(event.id),
    ]);
    const index = new PlaceIndex(
      places.map((p) => ({ id: p.id, eventId: event.id, name: p.name, area: p.area, startsAt: start.getTime(), endsAt: end.getTime() })),
    );
    const byPerson = new Map<number, Array<{ at: number; placeId: number | undefined }>>();
    for (const m of matches) {
      const list = byPerson.get(m.otherPersonId) ?? [];
      list.push({ at: m.at, placeId: index.find({ latitude: m.latitude, longitude: m.longitude }, m.at)?.id });
      byPerson.set(m.otherPersonId, list);
    }
    return new Map([...byPerson].map(([other, list]) => [other, countMeetings(list, rules)]));
  };
}
