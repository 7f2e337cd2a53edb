import { z } from 'zod';

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

/** Accepts a number or a numeric string (the old API sent strings), and yields a finite number. */
const degrees = (name: string, limit: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `${name} must be a number`)
        .transform(Number),
    ])
    .pipe(z.number().finite().min(-limit, `${name} must be in [-${limit}, ${limit}]`).max(limit, `${name} must be in [-${limit}, ${limit}]`))
    .meta({ description: `WGS 84 degrees in [-${limit}, ${limit}], as a number or a string` });

export const newLocationSchema = z
  .strictObject({
    person_id: z.number().int().positive().max(2_147_483_647),
    latitude: degrees('latitude', 90),
    longitude: degrees('longitude', 180),
    creation_time: z.iso
      .datetime({ offset: true, local: true })
      .meta({ description: 'When the device was there; ISO 8601, UTC when no offset is given', example: '2020-08-18T10:37:06Z' }),
    event_id: z.uuid().optional().meta({ description: 'Optional client-chosen id that makes retries idempotent' }),
  })
  .meta({ id: 'NewLocation', example: { person_id: 5, latitude: '37.553441', longitude: '-122.290524', creation_time: '2020-08-18T10:37:06Z' } });

export const acceptedLocationSchema = z.object({ event_id: z.uuid() }).meta({ id: 'AcceptedLocation' });

export type Location = z.infer<typeof locationSchema>;
