/**
 * The simulator's venue (venue.ts) as an event: its floor plan as places (booths 5 m square, talk
 * rooms 20 m × 20 m, the lounge an area) and a day of talks in the four rooms, as the body of
 * POST /api/events/{event_id}/venue. seedDemoEvent stores it once, as `npm start` does.
 */
import type { Knex } from 'knex';
import { eventRepository } from '../../modules/person-api/src/event-repository';
import { venueImportSchema } from '../../modules/person-api/src/event-schemas';
import { createVenue, type LatLon } from './venue';

export const DEMO_EVENT_NAME = 'UdaConnect demo conference';

/** Side of each place's square, in meters. */
const SIDE_METERS = { booth: 5, talk: 20, lounge: 16 } as const;
const KIND = { booth: 'booth', talk: 'room', lounge: 'area' } as const;
/** Talks: 45 minutes each, starting on the hour from 09:00 to 16:00 UTC. */
const FIRST_TALK_HOUR = 9;
const TALKS_PER_ROOM = 8;
const TALK_MINUTES = 45;
const TOPICS = ['Streaming pings with Kafka', 'PostGIS for people', 'gRPC in practice', 'Privacy by design', 'Scaling reads', 'Zero-downtime deploys'];

/** Rounded to 7 decimals (about 1 cm). */
const round = (degrees: number) => Math.round(degrees * 1e7) / 1e7;

function placeName(id: string): string {
  if (id === 'lounge') return 'Coffee lounge';
  const [kind, ...rest] = id.split('-');
  return kind === 'talk' ? `Talk room ${rest.join('-')}` : `Booth ${rest.join('-')}`;
}

interface DemoVenue {
  event: { name: string; starts_at: string; ends_at: string };
  venue: {
    places: Array<{ name: string; kind: 'booth' | 'room' | 'area'; area: { type: 'Polygon'; coordinates: number[][][] } }>;
    sessions: Array<{ title: string; place: string; starts_at: string; ends_at: string }>;
  };
}

/** The demo event on `day` (YYYY-MM-DD, UTC; the whole day) and its venue. */
export function demoVenue(day: string, center?: LatLon): DemoVenue {
  const venue = createVenue({ attendees: 1, ...(center ? { center } : {}) });
  const places = venue.pointsOfInterest.map((poi) => {
    const h = SIDE_METERS[poi.kind] / 2;
    // Counterclockwise from the south-west corner (RFC 7946's right-hand rule), closed.
    const corners = [
      [-h, -h],
      [h, -h],
      [h, h],
      [-h, h],
      [-h, -h],
    ].map(([dx, dy]) => {
      const p = venue.toLatLon({ x: poi.x + dx!, y: poi.y + dy! });
      return [round(p.longitude), round(p.latitude)];
    });
    return { name: placeName(poi.id), kind: KIND[poi.kind], area: { type: 'Polygon' as const, coordinates: [corners] } };
  });
  const rooms = places.filter((p) => p.kind === 'room');
  const midnight = Date.parse(`${day}T00:00:00Z`);
  const at = (hour: number, minute = 0) => new Date(midnight + (hour * 60 + minute) * 60_000).toISOString();
  const sessions = rooms.flatMap((room, r) =>
    Array.from({ length: TALKS_PER_ROOM }, (_, slot) => ({
      title: `${TOPICS[(r + slot) % TOPICS.length]} (${room.name}, talk ${slot + 1})`,
      place: room.name,
      starts_at: at(FIRST_TALK_HOUR + slot),
      ends_at: at(FIRST_TALK_HOUR + slot, TALK_MINUTES),
    })),
  );
  return { event: { name: DEMO_EVENT_NAME, starts_at: at(0), ends_at: at(24) }, venue: { places, sessions } };
}

/**
 * Creates the demo event of `day` with its venue unless an event of that name exists (then
 * nothing changes), in one transaction, with the checks of POST /api/events/{event_id}/venue.
 * Returns the new event's id, or undefined when it was there already.
 */
export async function seedDemoEvent(knex: Knex, day: string): Promise<number | undefined> {
  const demo = demoVenue(day);
  return knex.transaction(async (trx) => {
    // Two seeders at once: the second waits, then finds the event.
    await trx.raw('LOCK TABLE event IN SHARE ROW EXCLUSIVE MODE');
    if (await trx('event').where({ name: DEMO_EVENT_NAME }).first('id')) return undefined;
    const events = eventRepository(trx);
    const event = await events.createEvent(demo.event);
    await events.importVenue(event.id, venueImportSchema.parse(demo.venue));
    return event.id;
  });
}
