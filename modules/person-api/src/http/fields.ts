/**
 * The zod schemas of every REST input field that is text: names, labels, ids and numbers written
 * in a path or query string. Each one validates with a pattern it also puts in the OpenAPI
 * document, so the document says exactly what is accepted (docs/contract.md §2.1, "Text").
 * Patterns are ECMAScript regular expressions in Unicode mode (`u`, as JSON Schema reads them);
 * lengths count Unicode code points, as JSON Schema's maxLength does.
 */
import { z } from 'zod';

const codePoints = (s: string) => [...s].length;

/** Control (Cc: C0, DEL, C1), format (Cf: bidi overrides and isolates, zero-width space, BOM, …), lone surrogates, line and paragraph separators. */
const FORBIDDEN = String.raw`\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}`;
/** The two format characters some scripts (Persian, Indic) and emoji sequences need: ZWNJ and ZWJ. */
const JOINERS = String.raw`\u200C\u200D`;
/** At least one letter, digit, punctuation mark or symbol: whitespace-only (or invisible-only) text is refused. */
const VISIBLE = String.raw`[\p{L}\p{N}\p{P}\p{S}]`;
const TEXT_SOURCE = String.raw`^(?=[\s\S]*${VISIBLE})(?:[${JOINERS}]|(?![${FORBIDDEN}])[\s\S])*$`;
const TEXT = new RegExp(TEXT_SOURCE, 'u');
const FORBIDDEN_CHAR = new RegExp(`(?![${JOINERS}])[${FORBIDDEN}]`, 'u');

const codePointOf = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Free text typed by a person (a name, a label). Refused (400 naming the field): control
 * characters (including NUL, tab and newline), format characters other than ZWNJ/ZWJ (bidi
 * overrides and isolates, zero-width space, word joiner, BOM), lone surrogates, line and
 * paragraph separators, text without a visible character, and more than `max` code points.
 * Accepted text is trimmed and NFC-normalised before it is stored.
 */
export const text = (max: number, description: string) =>
  z
    .string()
    .superRefine((s, ctx) => {
      if (s.length === 0) return void ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      const bad = FORBIDDEN_CHAR.exec(s);
      if (bad) {
        return void ctx.addIssue({
          code: 'custom',
          message: `must not contain ${codePointOf(bad[0])} (control, invisible format and bidirectional characters are refused)`,
        });
      }
      if (!TEXT.test(s)) return void ctx.addIssue({ code: 'custom', message: 'must contain a visible character (not only spaces)' });
      if (codePoints(s) > max) ctx.addIssue({ code: 'custom', message: `must be at most ${max} characters` });
    })
    .transform((s, ctx) => {
      const clean = s.trim().normalize('NFC');
      // NFC can lengthen a few rare characters (U+0344, Hebrew presentation forms): the stored text keeps the limit.
      if (codePoints(clean) > max) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${max} characters once normalised (NFC)` });
        return z.NEVER;
      }
      return clean;
    })
    .meta({
      description:
        `${description}. 1–${max} characters (Unicode code points, after NFC normalisation), with at least one letter, digit, ` +
        'punctuation mark or symbol; control characters, bidirectional and other invisible format characters (except ZWNJ and ZWJ), ' +
        'lone surrogates and line separators are refused. Stored trimmed and in Unicode NFC.',
      type: 'string',
      minLength: 1,
      maxLength: max,
      pattern: TEXT_SOURCE,
    });

/** A regular expression source matching the decimal integers min..max (min 0 or 1), without sign or leading zeros. */
const decimalRangeSource = (min: 0 | 1, max: number) => `^${decimalRangeGroup(min, max)}$`;

/** decimalRangeSource's group, unanchored, to build larger patterns with. */
export function decimalRangeGroup(min: 0 | 1, max: number): string {
  const d = String(max);
  const n = d.length;
  const alternatives: string[] = [];
  if (min === 0) alternatives.push('0');
  if (n >= 2) alternatives.push(n === 2 ? '[1-9]' : `[1-9][0-9]{0,${n - 2}}`);
  // n-digit numbers up to max: a prefix of max, then a smaller digit, then anything.
  for (let i = 0; i < n; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(d[i]) - 1;
    if (high < low) continue;
    const rest = n - i - 1;
    alternatives.push(`${d.slice(0, i)}${low === high ? String(low) : `[${low}-${high}]`}${rest ? `[0-9]{${rest}}` : ''}`);
  }
  alternatives.push(d);
  return `(?:${alternatives.join('|')})`;
}

/**
 * An integer in a path or query string: decimal digits only, no sign, no leading zeros, in
 * [min, max] ("1.5", "-1", "1e3", "01", " 1" are refused), as a number.
 */
export const decimalInteger = (min: 0 | 1, max: number, description: string) =>
  z
    .string()
    .regex(new RegExp(decimalRangeSource(min, max)), `must be a whole number from ${min} to ${max}, in decimal digits without leading zeros`)
    .transform(Number)
    .meta({ description: `${description}: an integer from ${min} to ${max}, decimal digits without sign or leading zeros`, example: String(Math.max(min, 5)) });

/**
 * A decimal number in a query string with 0 < value ≤ max (max an integer): digits and an optional
 * fraction, no sign, exponent or leading zeros ("5", "0.5", ".5", "2.", "10000.0"), as a number.
 */
export const positiveDecimal = (max: number, description: string) =>
  z
    .string()
    .regex(
      new RegExp(String.raw`^(?=[^1-9]*[1-9])(?:${decimalRangeGroup(0, max - 1)}(?:\.[0-9]*)?|\.[0-9]+|${max}(?:\.0*)?)$`),
      `must be a number greater than 0 and at most ${max}, in decimal digits (no sign or exponent)`,
    )
    .transform(Number)
    .meta({ description: `${description}: greater than 0, at most ${max}; decimal digits with an optional fraction, no sign or exponent` });

/** person.id is a PostgreSQL int4. */
export const INT4_MAX = 2_147_483_647;

/** A path id: 1..max. */
export const idParam = (description: string, max: number) => decimalInteger(1, max, description).meta({ param: { in: 'path' } });

/** Gregorian calendar dates 0000-01-01..9999-12-31 that exist (leap years included). */
const DATE_SOURCE =
  String.raw`^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))` +
  String.raw`|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)$`;

/** A calendar date YYYY-MM-DD that exists (2020-02-30, 2021-02-29 and 2020-13-01 are refused). */
export const isoDate = (description: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD')
    .refine((s) => new RegExp(DATE_SOURCE).test(s), 'is not a real calendar date')
    .meta({ description: `${description}; YYYY-MM-DD, a date that exists`, example: '2020-01-01', pattern: DATE_SOURCE });

/** The pattern of a zod string format (uuid, ISO date-time), so the document carries the validator's own pattern. */
export const formatPattern = (schema: z.ZodUUID | z.ZodISODateTime): string => {
  const pattern = (schema._zod.def as { pattern?: RegExp }).pattern;
  if (!pattern) throw new Error('schema has no pattern');
  return pattern.source;
};

/** A UUID as zod checks it (RFC 9562 versions 1–8 and variant bits, or the nil and max UUIDs). */
export const uuid = (message?: string) => {
  const schema = z.uuid(message);
  return schema.meta({ pattern: formatPattern(schema) });
};
