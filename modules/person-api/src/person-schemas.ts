import { z } from 'zod';

const name = (what: string) => z.string().trim().min(1, `${what} must not be empty`).max(255, `${what} must be at most 255 characters`);

export const personSchema = z
  .object({
    id: z.number().int(),
    first_name: z.string(),
    last_name: z.string(),
    company_name: z.string(),
  })
  .meta({ id: 'Person', example: { id: 5, first_name: 'Taco', last_name: 'Fargo', company_name: 'Alpha Omega Upholstery' } });

export const createPersonSchema = z
  .strictObject({
    first_name: name('first_name'),
    last_name: name('last_name'),
    company_name: name('company_name'),
  })
  .meta({ id: 'NewPerson', example: { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' } });

/** A positive id written in decimal digits only ("1.5", "-1", "1e3" are refused), at most `max`. */
export const positiveId = (description: string, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be a positive integer').max(max, 'is too large'))
    .meta({ description, param: { in: 'path' }, example: '5' });

/** person.id is a PostgreSQL int4. */
export const int4Id = (description: string) => positiveId(description, 2_147_483_647);

export const personIdParams = z.object({ id: int4Id('Person id') });

export const listPersonsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(1000).meta({ description: 'Page size (default 1000)' }),
  offset: z.coerce.number().int().min(0).default(0).meta({ description: 'Persons to skip' }),
});

export type Person = z.infer<typeof personSchema>;
export type NewPerson = z.infer<typeof createPersonSchema>;
