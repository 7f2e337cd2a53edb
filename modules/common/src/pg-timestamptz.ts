/**
 * A fast parser for PostgreSQL's text form of `timestamptz`, installed for every pg connection
 * by db.ts. node-postgres parses timestamps with `postgres-date` (three regular expressions and
 * a Date built field by field); a connection query that returns a few hundred rows spent more
 * time there than anywhere else in connection-service (docs/benchmarks.md).
 *
 * The fast path takes exactly what the server prints with DateStyle ISO (the default, and what
 * libpq-style clients expect): `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]`, years 1000–9999.
 * Anything else (`infinity`, BC dates, years below 1000, other DateStyles) goes to the parser
 * node-postgres had, so the result is always the same Date it would have returned.
 */
type Parser = (text: string) => unknown;

const ZERO = 48;

/** The decimal value of text[from, from + length), or -1 if any of it is not a digit. */
function digits(text: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Epoch milliseconds of an ISO-style timestamptz, or undefined when the text is not of that form. */
export function parseIsoTimestamptz(text: string): number | undefined {
  // "2025-11-13 12:34:56+00" is the shortest form: 22 characters.
  if (text.length < 22 || text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(10) !== 32 /* space */) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 1000 || month < 1 || day < 1 || hour < 0 || minute < 0 || second < 0) return undefined;
  if (text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58) return undefined;

  let i = 19;
  let millis = 0;
  if (text.charCodeAt(i) === 46 /* . */) {
    // Microseconds, truncated to milliseconds as a Date would.
    let scale = 100;
    i++;
    while (i < text.length) {
      const d = text.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      millis += d * scale;
      scale /= 10;
      i++;
    }
    millis = Math.trunc(millis);
  }

  const sign = text.charCodeAt(i);
  if (sign !== 43 /* + */ && sign !== 45 /* - */) return undefined;
  // ±HH, ±HH:MM or ±HH:MM:SS, and nothing after it.
  const rest = text.length - i - 1;
  if (rest !== 2 && rest !== 5 && rest !== 8) return undefined;
  const offsetHours = digits(text, i + 1, 2);
  const offsetMinutes = rest >= 5 && text.charCodeAt(i + 3) === 58 ? digits(text, i + 4, 2) : rest >= 5 ? -1 : 0;
  const offsetSeconds = rest === 8 && text.charCodeAt(i + 6) === 58 ? digits(text, i + 7, 2) : rest === 8 ? -1 : 0;
  if (offsetHours < 0 || offsetMinutes < 0 || offsetSeconds < 0) return undefined;
  const offsetMs = (sign === 45 ? -1 : 1) * ((offsetHours * 60 + offsetMinutes) * 60 + offsetSeconds) * 1000;

  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMs;
}

/** The timestamptz parser for node-postgres: the fast path, else `fallback` (postgres-date). */
export function timestamptzParser(fallback: Parser): Parser {
  return (text: string) => {
    const ms = parseIsoTimestamptz(text);
    return ms === undefined ? fallback(text) : new Date(ms);
  };
}
