/**
 * docs/configuration.md lists every variable each service reads, with its default. This reads the
 * tables and compares them with the config schemas, so a new setting cannot land undocumented.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { dbCliConfigSchema } from '../../db/config';
import { frontendConfigSchema } from '../../modules/frontend/server/config';

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
  ['frontend', frontendConfigSchema],
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
