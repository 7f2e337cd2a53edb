/** What GET /api/persons/{id}/visits and /shared answer: presence the writer derived from pings. */
import { z } from 'zod';
import { decimalInteger, INT4_MAX } from './http/fields';
import { personSummarySchema } from './person-schemas';
import { sessionSchema } from './event-schemas';

export const presenceQuery = z.object({
  event_id: decimalInteger(1, INT4_MAX, 'The event').meta({ description: 'The event whose presence is wanted: its id (decimal digits)' }),
});

const placeRefSchema = z
  .object({ id: z.number().int(), name: z.string(), kind: z.enum(['booth', 'room', 'area']) })
  .meta({ id: 'PlaceRef', description: 'A place of the event, without its area (GET /api/events/{event_id}/places has the polygons)' });

const sessionRefSchema = sessionSchema.omit({ event_id: true }).meta({ id: 'SessionRef' });

export const visitsSchema = z
  .object({
    event_id: z.number().int(),
    person_id: z.number().int(),
    places: z.array(
      z
        .object({
          place: placeRefSchema,
          first_seen: z.string().meta({ description: 'The first ping of the first visit' }),
          last_seen: z.string().meta({ description: 'The last ping of the last visit' }),
          minutes: z.number().meta({ description: 'The visits together, first to last ping of each, in minutes (one decimal)' }),
          visits: z
            .number()
            .int()
            .meta({ description: 'Separate visits (more than 5 minutes between two pings inside starts a new one; pings outside in between do not)' }),
        })
        .meta({ id: 'PlaceVisited' }),
    ),
    sessions: z.array(
      z
        .object({
          session: sessionRefSchema,
          minutes_inside: z.number().meta({ description: 'Time inside the room during the session, in minutes (one decimal): at least half of it' }),
        })
        .meta({ id: 'SessionAttended' }),
    ),
  })
  .meta({ id: 'Visits', description: 'The places a person visited during an event, ordered by first_seen, and the sessions they attended, by start' });

export const sharedSchema = z
  .object({
    event_id: z.number().int(),
    person_id: z.number().int(),
    shared: z.array(
      z
        .object({
          person: personSummarySchema,
          places: z.array(placeRefSchema).meta({ description: 'Places both visited during the event (not necessarily together), by name' }),
          sessions: z.array(sessionRefSchema).meta({ description: 'Sessions both attended, by start' }),
          meetings: z.number().int().meta({ description: 'Times they met: pings within the meeting distance and time, once per place per cooldown' }),
        })
        .meta({ id: 'SharedWith' }),
    ),
  })
  .meta({
    id: 'Shared',
    description:
      'One entry per other person sharing a place, a session or a meeting with this person in the event; most shared first (places + sessions + meetings), then by person id',
  });

export type PlaceRef = z.infer<typeof placeRefSchema>;
export type SessionRef = z.infer<typeof sessionRefSchema>;
export type Shared = z.infer<typeof sharedSchema>;
