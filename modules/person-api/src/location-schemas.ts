import { z } from 'zod';
import { formatPattern, INT4_MAX, isoDate, uuid } from './http/fields';
import { pagingQuery } from './person-schemas';

export const locationSchema = z
  .object({
    id: z.number().int(),
    person_id: z.number().int(),
    latitude: z.string().meta({ description: 'WGS 84 degrees, as a string (kept from the old API)' }),
    longitude: z.string().meta({ description: 'WGS 84 degrees, as a string (kept from the old API)' }),
    creation_time: z.string().meta({ description: 'ISO 8601 UTC', example: '2020-08-18T10:37:06Z' }),
  })
  .meta({
    id: 'Location',
    example: { id: 29, person_id: 1, latitude: '37.553441', longitude: '-122.290524', creation_time: '2020-08-18T10:37:06Z' },
  });

/**
 * Decimal text of a number in [-limit, limit] (limit 90 or 180): an optional sign, digits, an
 * optional fraction; no exponent, no spaces ("37.553441", "-122.29", "+5", ".5").
 */
const DEGREES_TEXT: Record<90 | 180, string> = {
  90: String.raw`^[+-]?(?:(?:[0-8]?[0-9])(?:\.[0-9]*)?|90(?:\.0*)?|\.[0-9]+)$`,
  180: String.raw`^[+-]?(?:(?:1[0-7][0-9]|0?[0-9]?[0-9])(?:\.[0-9]*)?|180(?:\.0*)?|\.[0-9]+)$`,
};

/** A number, or its decimal text (the old API sent strings), in [-limit, limit]; yields a number. */
const degrees = (name: string, limit: 90 | 180) =>
  z
    .union([
      z.number().min(-limit, `${name} must be in [-${limit}, ${limit}]`).max(limit, `${name} must be in [-${limit}, ${limit}]`),
      z
        .string()
        .regex(new RegExp(DEGREES_TEXT[limit]), `${name} must be a number in [-${limit}, ${limit}], or its decimal text without exponent or spaces`)
        .transform(Number),
    ])
    .meta({ description: `WGS 84 degrees in [-${limit}, ${limit}], as a number or as decimal text ("37.553441")` });

const creationTime = z.iso.datetime({ offset: true, local: true });

export const newLocationSchema = z
  .strictObject({
    person_id: z.number().int().min(1).max(INT4_MAX),
    latitude: degrees('latitude', 90),
    longitude: degrees('longitude', 180),
    creation_time: creationTime.meta({
      description:
        'When the device was there; ISO 8601, UTC when no offset is given. Also refused (400, as a gRPC ping): a time ' +
        'not after 1970-01-01T00:00:00Z, or more than 5 minutes in the future',
      example: '2020-08-18T10:37:06Z',
      pattern: formatPattern(creationTime),
    }),
    event_id: uuid().optional().meta({ description: 'Optional client-chosen id that makes retries idempotent' }),
  })
  .meta({ id: 'NewLocation', example: { person_id: 5, latitude: '37.553441', longitude: '-122.290524', creation_time: '2020-08-18T10:37:06Z' } });

export const acceptedLocationSchema = z.object({ event_id: z.uuid() }).meta({ id: 'AcceptedLocation' });

/** GET /api/persons/{id}/locations */
export const personLocationsQuery = z
  .object({
    start_date: isoDate('First day, UTC, included').optional(),
    end_date: isoDate('Last day, UTC, included; not before start_date').optional(),
    ...pagingQuery(10_000, 'locations', 1000),
  })
  .refine((q) => !q.start_date || !q.end_date || q.end_date >= q.start_date, { message: 'must not be before start_date', path: ['end_date'] });

export type Location = z.infer<typeof locationSchema>;
