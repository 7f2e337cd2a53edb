import { z } from 'zod';
import { daysBetween, isoDate } from './date-range';
import { locationSchema } from './location-schemas';
import { personSchema } from './person-schemas';

const decimal = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export const connectionQuery = z
  .strictObject({
    start_date: isoDate('First day (UTC), included'),
    end_date: isoDate('Last day (UTC), included'),
    distance: z
      .string()
      .regex(decimal, 'must be a number of meters')
      .transform(Number)
      .pipe(z.number().finite().gt(0, 'must be greater than 0').max(10_000, 'must be at most 10000 meters'))
      .optional()
      .transform((d) => d ?? 5)
      .meta({ description: 'Meters (geodesic), 0 < distance ≤ 10000; default 5', example: '5' }),
    time_window: z
      .string()
      .regex(/^\d+$/, 'must be a whole number of minutes')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1 minute').max(527_040, 'must be at most 366 days in minutes'))
      .optional()
      .meta({
        description:
          "Minutes. Only count another person's location if it is within this many minutes of the matching location of this person (same place at the same time)",
      }),
    group_by: z.enum(['person']).optional().meta({
      description: 'person: one entry per other person (first and last time met, number of matches, closest distance, meeting points)',
    }),
  })
  .superRefine((q, ctx) => {
    const span = daysBetween(q.start_date, q.end_date);
    if (span < 0) ctx.addIssue({ code: 'custom', path: ['end_date'], message: 'must not be before start_date' });
    else if (span + 1 > 366) ctx.addIssue({ code: 'custom', path: ['end_date'], message: 'the range may span at most 366 days' });
  });

export const connectionSchema = z.object({ person: personSchema, location: locationSchema }).meta({ id: 'Connection' });

export const personConnectionSchema = z
  .object({
    person: personSchema,
    first_met: z.string().meta({ description: 'ISO 8601 UTC' }),
    last_met: z.string().meta({ description: 'ISO 8601 UTC' }),
    match_count: z.number().int().meta({ description: "How many of the other person's locations matched" }),
    closest_distance_meters: z.number(),
    meeting_points: z.array(locationSchema).meta({ description: "The other person's matching locations, by time" }),
  })
  .meta({ id: 'PersonConnection' });
