import { z } from 'zod';
import { decimalInteger, idParam, INT4_MAX, text } from './http/fields';

/** The longest first, last or company name (Unicode code points). */
const NAME_MAX = 255;
/** The most persons one GET /api/persons answers, and its page size when no limit is given. */
export const PERSONS_PAGE_MAX = 10_000;

/** A person as others see them, in connection answers: the contract's four fields. */
export const personSummarySchema = z
  .object({
    id: z.number().int(),
    first_name: z.string(),
    last_name: z.string(),
    company_name: z.string(),
  })
  .meta({ id: 'PersonSummary', example: { id: 5, first_name: 'Taco', last_name: 'Fargo', company_name: 'Alpha Omega Upholstery' } });

/** A person's own record (GET, POST, PATCH /api/persons…): the four fields and their discoverability. */
export const personSchema = personSummarySchema
  .extend({
    discoverable: z.boolean().meta({ description: "False: left out of other people's connection answers (PATCH /api/persons/{id})" }),
  })
  .meta({ id: 'Person', example: { id: 5, first_name: 'Taco', last_name: 'Fargo', company_name: 'Alpha Omega Upholstery', discoverable: true } });

export const createPersonSchema = z
  .strictObject({
    first_name: text(NAME_MAX, 'First name'),
    last_name: text(NAME_MAX, 'Last name'),
    company_name: text(NAME_MAX, 'Company name'),
  })
  .meta({ id: 'NewPerson', example: { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' } });

/** PATCH /api/persons/{id}: any of the names, and the discoverability flag; absent fields stay as they are. */
export const personChangesSchema = z
  .strictObject({
    first_name: text(NAME_MAX, 'First name').optional(),
    last_name: text(NAME_MAX, 'Last name').optional(),
    company_name: text(NAME_MAX, 'Company name').optional(),
    discoverable: z
      .boolean()
      .optional()
      .meta({ description: "false: the person is left out of other people's connection answers while it stays false; their own answers still work" }),
  })
  .meta({ id: 'PersonChanges', example: { discoverable: false } });

/** person.id is a PostgreSQL int4. */
export const int4Id = (description: string) => idParam(description, INT4_MAX);

export const personIdParams = z.object({ id: int4Id('Person id') });

/** `limit` and `offset` of a list: at most `max` items, skipping at most Number.MAX_SAFE_INTEGER. */
export const pagingQuery = (max: number, what: string, defaultLimit: number) => ({
  limit: decimalInteger(1, max, `Page size (default ${defaultLimit})`)
    .optional()
    .meta({ description: `Most ${what} to answer: an integer from 1 to ${max}, decimal digits (default ${defaultLimit})` }),
  offset: decimalInteger(0, Number.MAX_SAFE_INTEGER, `${what[0]!.toUpperCase()}${what.slice(1)} to skip (default 0)`).optional(),
});

export const listPersonsQuery = z.object(pagingQuery(PERSONS_PAGE_MAX, 'persons', PERSONS_PAGE_MAX));

export type Person = z.infer<typeof personSchema>;
export type PersonSummary = z.infer<typeof personSummarySchema>;
export type NewPerson = z.infer<typeof createPersonSchema>;
export type PersonChanges = z.infer<typeof personChangesSchema>;
