/**
 * docs/configuration.md lists every variable each service reads, with its default. This reads the
 * tables and compares them with the config schemas (and, for the frontend server, which has no
 * schema, with the variables its source reads), so a new setting cannot land undocumented.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { dbCliConfigSchema } from '../../db/config';

const ROOT = path.resolve(__dirname, '../..');
const DOC = 'docs/configuration.md';
const doc = fs.readFileSync(path.join(ROOT, DOC), 'utf8');

interface Row {
  variable: string;
  /** "required", "unset", or the default as written between backticks. */
  default: string;
}

/** The table rows under the heading "## `<section>`", up to the next "## ". */
function rows(section: string): Row[] {
  const start = doc.indexOf(`\n## \`${section}\`\n`);
  if (start < 0) throw new Error(`${DOC} has no section "## \`${section}\`"`);
  const end = doc.indexOf('\n## ', start + 1);
  const text = doc.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+?) \|/gm)].map((m) => {
    const cell = m[2]!.trim();
    const quoted = /^`(.*)`$/.exec(cell);
    return { variable: m[1]!, default: quoted ? quoted[1]! : cell };
  });
}

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

const schemas: Array<[string, z.ZodObject]> = [
  ['person-api', personApiConfigSchema],
  ['location-ingest', ingestConfigSchema],
  ['location-writer', locationWriterConfigSchema],
  ['connection-service', connectionConfigSchema],
  ['db-migrate', dbCliConfigSchema],
];

describe.each(schemas)('%s', (section, schema) => {
  const shape = schema.shape as Record<string, z.ZodType>;
  const documented = rows(section);

  it('the table lists exactly the variables of the config schema, each once', () => {
    const names = documented.map((r) => r.variable);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(sorted(names)).toEqual(sorted(Object.keys(shape)));
  });

  it('says "required" exactly for the variables without a default, and gives the others the default the schema applies', () => {
    for (const row of documented) {
      const field = shape[row.variable];
      if (!field) continue; // reported by the test above
      const absent = field.safeParse(undefined);
      const where = `${DOC}, ${section}, ${row.variable}`;
      if (row.default === 'required') {
        expect({ where, required: !absent.success }).toEqual({ where, required: true });
      } else if (row.default === 'unset') {
        expect({ where, value: absent.success ? absent.data : 'required' }).toEqual({ where, value: undefined });
      } else {
        // The documented text, parsed as if it were set, must give what the schema uses when it is not.
        const written = field.safeParse(row.default);
        expect({ where, value: written.success ? written.data : `"${row.default}" does not parse` }).toEqual({
          where,
          value: absent.success ? absent.data : 'required',
        });
      }
    }
  });
});

describe('frontend (server/main.ts reads the environment itself)', () => {
  const source = fs.readFileSync(path.join(ROOT, 'modules/frontend/server/main.ts'), 'utf8');
  const documented = rows('frontend');
  const read = new Set([
    ...[...source.matchAll(/\benv\('([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
    ...[...source.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!),
    ...[...source.matchAll(/process\.env\[['"]([A-Z][A-Z0-9_]*)['"]\]/g)].map((m) => m[1]!),
  ]);

  it('the table lists exactly the variables the server reads', () => {
    expect(read.size).toBeGreaterThan(0);
    expect(sorted(documented.map((r) => r.variable))).toEqual(sorted(read));
  });

  it("gives the defaults written in env('NAME', default)", () => {
    const constants = new Map([...source.matchAll(/^const ([A-Z][A-Z0-9_]*) = '([^']*)';$/gm)].map((m) => [m[1]!, m[2]!]));
    const fallbacks = [...source.matchAll(/\benv\('([A-Z][A-Z0-9_]*)', (?:'([^']*)'|([A-Z][A-Z0-9_]*))\)/g)];
    expect(fallbacks.length).toBeGreaterThan(0);
    for (const m of fallbacks) {
      const fallback = m[2] ?? constants.get(m[3]!);
      expect({ variable: m[1], default: documented.find((r) => r.variable === m[1])?.default }).toEqual({ variable: m[1], default: fallback });
    }
  });
});
