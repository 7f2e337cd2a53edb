/** An API with events for the event page's tests: a venue of four places, two talks, one person's visits and shared. */
import type { ConferenceEvent, EventSession, PersonShared, PersonVisits, Place, PlaceKind } from '../src/api';
import { defaultApi, persons, type Handler } from './fixtures';

/** The tests run at this instant (vi.setSystemTime): during the demo conference. */
export const NOW = new Date('2026-05-05T10:30:00Z');

export const events: ConferenceEvent[] = [
  { id: 1, name: 'Old meetup', starts_at: '2025-11-10T08:00:00.000Z', ends_at: '2025-11-10T18:00:00.000Z' },
  { id: 2, name: 'UdaConnect demo conference', starts_at: '2026-05-05T00:00:00.000Z', ends_at: '2026-05-06T00:00:00.000Z' },
  { id: 3, name: 'Future summit', starts_at: '2026-09-01T08:00:00.000Z', ends_at: '2026-09-03T18:00:00.000Z' },
];

/** A square of `side` meters centred at (lon, lat), counterclockwise and closed. */
export function square(lon: number, lat: number, side: number): number[][] {
  const dLat = side / 2 / 111_320;
  const dLon = side / 2 / (111_320 * Math.cos((lat * Math.PI) / 180));
  return [
    [lon - dLon, lat - dLat],
    [lon + dLon, lat - dLat],
    [lon + dLon, lat + dLat],
    [lon - dLon, lat + dLat],
    [lon - dLon, lat - dLat],
  ];
}

export const place = (id: number, event_id: number, name: string, kind: PlaceKind, ...rings: number[][][]): Place => ({
  id,
  event_id,
  name,
  kind,
  area: { type: 'Polygon', coordinates: rings },
});

const LON = -122.4017;
const LAT = 37.7841;
export const venue: Place[] = [
  place(10, 2, 'Booth 1', 'booth', square(LON - 0.0003, LAT - 0.0002, 5)),
  place(11, 2, 'Booth 2', 'booth', square(LON + 0.0003, LAT - 0.0002, 5)),
  place(12, 2, 'Talk room 1', 'room', square(LON, LAT + 0.0003, 20)),
  // A lounge with a pillar (a hole).
  place(13, 2, 'Coffee lounge', 'area', square(LON, LAT, 16), square(LON, LAT, 2).reverse()),
];
const oldVenue: Place[] = [place(20, 1, 'Old hall', 'area', square(LON, LAT, 30))];

const talks: EventSession[] = [
  { id: 100, event_id: 2, place_id: 12, title: 'Keynote', starts_at: '2026-05-05T09:00:00.000Z', ends_at: '2026-05-05T09:45:00.000Z' },
  { id: 101, event_id: 2, place_id: 12, title: 'Scaling reads', starts_at: '2026-05-05T10:00:00.000Z', ends_at: '2026-05-05T10:45:00.000Z' },
];

const ref = (p: Place) => ({ id: p.id, name: p.name, kind: p.kind });
const { event_id: _e, ...keynote } = talks[0]!;

/** Taco Fargo (5) at the demo conference: Booth 1 early, the keynote, Booth 2 twice. */
export const tacoVisits: PersonVisits = {
  event_id: 2,
  person_id: 5,
  places: [
    { place: ref(venue[1]!), first_seen: '2026-05-05T09:50:00.000Z', last_seen: '2026-05-05T10:20:00.000Z', minutes: 12.5, visits: 2 },
    { place: ref(venue[0]!), first_seen: '2026-05-05T08:10:00.000Z', last_seen: '2026-05-05T08:25:00.000Z', minutes: 15, visits: 1 },
  ],
  sessions: [{ session: keynote, minutes_inside: 40 }],
};

const tacoShared: PersonShared = {
  event_id: 2,
  person_id: 5,
  shared: [
    { person: persons[0]!, places: [ref(venue[1]!)], sessions: [keynote], meetings: 3 },
    { person: persons[2]!, places: [], sessions: [], meetings: 1 },
  ],
};

const notFound = { status: 404, body: { title: 'Not Found', status: 404, detail: 'No such thing' } };

/** defaultApi (the organizer, three persons) plus the events. */
export const eventApi: Handler = (url, init) => {
  const p = url.pathname;
  if (p === '/api/events') return { body: events };
  const m = /^\/api\/events\/(\d+)\/(places|sessions)$/.exec(p);
  if (m) {
    const id = Number(m[1]);
    if (m[2] === 'places') return { body: id === 2 ? venue : id === 1 ? oldVenue : [] };
    return { body: id === 2 ? talks : [] };
  }
  const v = /^\/api\/persons\/(\d+)\/(visits|shared)$/.exec(p);
  if (v) {
    const [personId, eventId] = [Number(v[1]), Number(url.searchParams.get('event_id'))];
    if (v[2] === 'visits') return { body: personId === 5 && eventId === 2 ? tacoVisits : { event_id: eventId, person_id: personId, places: [], sessions: [] } };
    return { body: personId === 5 && eventId === 2 ? tacoShared : { event_id: eventId, person_id: personId, shared: [] } };
  }
  if (p.endsWith('/meetings/live')) return notFound;
  return defaultApi(url, init);
};
