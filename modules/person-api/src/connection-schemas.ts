import { z } from 'zod';
import { daysBetween, isoDate } from './date-range';
import { decimalInteger, positiveDecimal } from './http/fields';
import { locationSchema } from './location-schemas';
import { personSummarySchema } from './person-schemas';

/** Largest `limit` of one page of connections (connection-service's MAX_PAGE_SIZE). */
export const CONNECTIONS_PAGE_MAX = 1000;

export const connectionQuery = z
  .strictObject({
    start_date: isoDate('First day (UTC), included'),
    end_date: isoDate('Last day (UTC), included'),
    distance: positiveDecimal(10_000, 'Meters (geodesic); default 5')
      .optional()
      .transform((d) => d ?? 5)
      .meta({ example: '5' }),
    time_window: decimalInteger(
      1,
      527_040,
      "Minutes (at most 366 days). Only count another person's location if it is within this many minutes of the matching location of this person (same place at the same time)",
    ).optional(),
    group_by: z.enum(['person']).optional().meta({
      description: 'person: one entry per other person (first and last time met, number of matches, closest distance, meeting points)',
    }),
    limit: decimalInteger(1, CONNECTIONS_PAGE_MAX, 'Page size')
      .optional()
      .meta({
        description:
          `Entries per page, 1 to ${CONNECTIONS_PAGE_MAX} (default 100 with a cursor). Without limit and cursor the whole answer comes in one response, ` +
          'refused with 400 when it holds more than 10,000 entries',
      }),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be the cursor of a Link rel="next" of this query')
      .optional()
      .meta({
        description: 'Where the next page starts: copied from the `rel="next"` URL of the `Link` header of the previous page, with the same other parameters',
      }),
  })
  .superRefine((q, ctx) => {
    const span = daysBetween(q.start_date, q.end_date);
    if (span < 0) ctx.addIssue({ code: 'custom', path: ['end_date'], message: 'must not be before start_date' });
    else if (span + 1 > 366) ctx.addIssue({ code: 'custom', path: ['end_date'], message: 'the range may span at most 366 days' });
  });

export const connectionSchema = z.object({ person: personSummarySchema, location: locationSchema }).meta({ id: 'Connection' });

export const personConnectionSchema = z
  .object({
    person: personSummarySchema,
    first_met: z.string().meta({ description: 'ISO 8601 UTC' }),
    last_met: z.string().meta({ description: 'ISO 8601 UTC' }),
    match_count: z.number().int().meta({ description: "How many of the other person's locations matched" }),
    closest_distance_meters: z.number(),
    meeting_points: z.array(locationSchema).meta({ description: "The other person's matching locations, by time" }),
  })
  .meta({ id: 'PersonConnection' });
