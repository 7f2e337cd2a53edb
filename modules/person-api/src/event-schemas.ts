import { z } from 'zod';
import { formatPattern, text } from './http/fields';
import { int4Id } from './person-schemas';

/** The longest event, place or session name (Unicode code points). */
const NAME_MAX = 200;
/** The longest event. */
export const EVENT_MAX_DAYS = 31;
/** Most rings of a polygon (the outer one and its holes), and most positions of all its rings together. */
const RINGS_MAX = 10;
const POLYGON_POSITIONS_MAX = 1000;
/** Most places and sessions in one POST /api/events/{event_id}/venue. */
export const IMPORT_PLACES_MAX = 2000;
export const IMPORT_SESSIONS_MAX = 10_000;
const PLACE_KINDS = ['booth', 'room', 'area'] as const;

const DAY_MS = 86_400_000;

const instant = z.iso.datetime({ offset: true });
/** An instant with its offset (Z or ±hh:mm); kept to the millisecond. */
const time = (description: string) =>
  instant.meta({
    description: `${description}; ISO 8601 with Z or an offset, kept to the millisecond`,
    example: '2026-05-05T09:00:00Z',
    pattern: formatPattern(instant),
  });

/** ends_at after starts_at, on the ends_at field. */
const endsAfterStart = <T extends { starts_at: string; ends_at: string }>(v: T, ctx: z.RefinementCtx) => {
  if (Date.parse(v.ends_at) <= Date.parse(v.starts_at)) ctx.addIssue({ code: 'custom', message: 'must be after starts_at', path: ['ends_at'] });
};

/** [longitude, latitude], WGS 84 degrees. */
const position = z
  .array(z.number().min(-180, 'must be in [-180, 180]').max(180, 'must be in [-180, 180]'))
  .length(2, 'must be [longitude, latitude]')
  .superRefine((p, ctx) => {
    if (p.length === 2 && Math.abs(p[1]!) > 90)
      ctx.addIssue({ code: 'custom', message: 'latitude must be in [-90, 90] (is the position [longitude, latitude]?)', path: [1] });
  })
  .meta({ description: '[longitude, latitude] in WGS 84 degrees: longitude in [-180, 180], latitude in [-90, 90]' });

const ring = z
  .array(position)
  .min(4, 'a ring needs at least 4 positions')
  .max(POLYGON_POSITIONS_MAX, `a polygon has at most ${POLYGON_POSITIONS_MAX} positions`)
  .superRefine((r, ctx) => {
    const first = r[0];
    const last = r[r.length - 1];
    if (first && last && (first[0] !== last[0] || first[1] !== last[1]))
      ctx.addIssue({ code: 'custom', message: 'the ring is not closed: its last position must equal its first' });
  })
  .meta({ description: 'A closed ring: at least 4 positions, the last equal to the first' });

/** A GeoJSON Polygon (RFC 7946 §3.1.6); PostGIS checks that it is valid (no self-intersection) when it is stored. */
const polygonSchema = z
  .strictObject({
    type: z.literal('Polygon'),
    coordinates: z
      .array(ring)
      .min(1, 'needs an outer ring')
      .max(RINGS_MAX, `at most ${RINGS_MAX} rings`)
      .superRefine((rings, ctx) => {
        if (rings.reduce((n, r) => n + r.length, 0) > POLYGON_POSITIONS_MAX)
          ctx.addIssue({ code: 'custom', message: `at most ${POLYGON_POSITIONS_MAX} positions in all` });
      })
      .meta({ description: `The outer ring, then up to ${RINGS_MAX - 1} holes; at most ${POLYGON_POSITIONS_MAX} positions in all` }),
  })
  .meta({
    id: 'Polygon',
    description:
      'A GeoJSON Polygon, positions [longitude, latitude] (WGS 84). Rings are closed (last position = first), have at least 4 positions; ' +
      `at most ${RINGS_MAX} rings and ${POLYGON_POSITIONS_MAX} positions in all. It must be a valid polygon (no self-intersection, ` +
      'holes inside the outer ring): PostGIS decides, and its reason is the 400.',
    example: {
      type: 'Polygon',
      coordinates: [
        [
          [-122.4018, 37.7841],
          [-122.4017, 37.7841],
          [-122.4017, 37.7842],
          [-122.4018, 37.7842],
          [-122.4018, 37.7841],
        ],
      ],
    },
  });

export const eventSchema = z
  .object({ id: z.number().int(), name: z.string(), starts_at: z.string(), ends_at: z.string() })
  .meta({ id: 'Event', example: { id: 1, name: 'UdaConnect demo conference', starts_at: '2026-05-05T00:00:00.000Z', ends_at: '2026-05-06T00:00:00.000Z' } });

export const newEventSchema = z
  .strictObject({
    name: text(NAME_MAX, 'Name of the event'),
    starts_at: time('When the event starts'),
    ends_at: time(`When it ends: after starts_at, at most ${EVENT_MAX_DAYS} days later`),
  })
  .superRefine((v, ctx) => {
    endsAfterStart(v, ctx);
    if (Date.parse(v.ends_at) - Date.parse(v.starts_at) > EVENT_MAX_DAYS * DAY_MS) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${EVENT_MAX_DAYS} days after starts_at`, path: ['ends_at'] });
    }
  })
  .meta({ id: 'NewEvent', example: { name: 'UdaConnect demo conference', starts_at: '2026-05-05T00:00:00Z', ends_at: '2026-05-06T00:00:00Z' } });

const kind = z.enum(PLACE_KINDS).meta({ description: 'booth, room (sessions are held in rooms) or area (a lounge, a hall)' });

export const placeSchema = z.object({ id: z.number().int(), event_id: z.number().int(), name: z.string(), kind, area: polygonSchema }).meta({ id: 'Place' });

export const newPlaceSchema = z
  .strictObject({ name: text(NAME_MAX, 'Name of the place, unique within the event'), kind, area: polygonSchema })
  .meta({ id: 'NewPlace' });

export const sessionSchema = z
  .object({ id: z.number().int(), event_id: z.number().int(), title: z.string(), place_id: z.number().int(), starts_at: z.string(), ends_at: z.string() })
  .meta({ id: 'Session' });

const sessionTimes = {
  starts_at: time('When the session starts: within the event'),
  ends_at: time('When it ends: after starts_at, within the event'),
};

export const newSessionSchema = z
  .strictObject({ title: text(NAME_MAX, 'Title of the session'), place_id: z.number().int().min(1).max(2_147_483_647), ...sessionTimes })
  .superRefine(endsAfterStart)
  .meta({
    id: 'NewSession',
    description: 'A session (a talk) in a place of the same event, within the event, overlapping no other session in that place',
  });

const importSessionSchema = z
  .strictObject({
    title: text(NAME_MAX, 'Title of the session'),
    place: text(NAME_MAX, 'Name of its place: a place of this import or one the event already has'),
    ...sessionTimes,
  })
  .superRefine(endsAfterStart)
  .meta({ id: 'VenueSession' });

export const venueImportSchema = z
  .strictObject({
    places: z.array(newPlaceSchema).max(IMPORT_PLACES_MAX, `at most ${IMPORT_PLACES_MAX} places per import`),
    sessions: z.array(importSessionSchema).max(IMPORT_SESSIONS_MAX, `at most ${IMPORT_SESSIONS_MAX} sessions per import`),
  })
  .meta({ id: 'VenueImport' });

export const venueSchema = z.object({ places: z.array(placeSchema), sessions: z.array(sessionSchema) }).meta({ id: 'Venue' });

export const eventIdParams = z.object({ event_id: int4Id('Event id') });
export const placeIdParams = z.object({ event_id: int4Id('Event id'), place_id: int4Id('Place id') });
export const sessionIdParams = z.object({ event_id: int4Id('Event id'), session_id: int4Id('Session id') });

export type EventRecord = z.infer<typeof eventSchema>;
export type NewEvent = z.infer<typeof newEventSchema>;
export type Place = z.infer<typeof placeSchema>;
export type NewPlace = z.infer<typeof newPlaceSchema>;
export type Session = z.infer<typeof sessionSchema>;
export type NewSession = z.infer<typeof newSessionSchema>;
export type VenueImport = z.infer<typeof venueImportSchema>;
