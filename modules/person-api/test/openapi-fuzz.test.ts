/**
 * A schema-driven fuzzer over /openapi.json, in CI: fast-check makes requests for every documented
 * operation from the document itself (values each parameter and body field accepts, values near
 * its limits, and the inputs an outside fuzzer found: ids 0 and 00, impossible dates, NUL and bidi
 * characters, offsets above 2^53, …), sends them over HTTP to person-api on a real database, and
 * checks each answer against the document:
 *
 * - no status ≥ 500, and only statuses the operation lists;
 * - a 2xx only for a request the document accepts, and its body matches the response schema;
 * - a 400 only for a request the document refuses (where the document decides it: see UNDECIDED);
 * - every error is problem+json.
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed when a case fails); FUZZ_RUNS=<n> per operation.
 */
import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { startTestPersonApi, type Harness } from './harness';
import { accepts, resolve, type OpenApiDocument, type Operation, type Parameter, type Schema } from './openapi-schema';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 740);

/** Keep-alive connections, as a fuzzer keeps them. */
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let h: Harness;
let doc: OpenApiDocument;
beforeAll(async () => {
  h = await startTestPersonApi('openapi-fuzz', { connectionService: true });
  doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as OpenApiDocument;
});
afterAll(async () => {
  agent.destroy();
  await h?.close();
});

// ---- values ---------------------------------------------------------------------------------

/** What outside fuzzers send: numbers at and past every limit, odd spellings, hostile text. */
const NASTY_TEXT = [
  '',
  ' ',
  '   ',
  '0',
  '00',
  '01',
  '-1',
  '+1',
  '1.5',
  '1e3',
  '0x10',
  ' 5',
  '5 ',
  'null',
  'true',
  'NaN',
  'Infinity',
  '2147483647',
  '2147483648',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '99999999999999999999',
  '10000',
  '10001',
  '2020-02-29',
  '2021-02-29',
  '2020-02-30',
  '2020-13-01',
  '2020-00-10',
  '2020-1-1',
  '0000-01-01',
  '9999-12-31',
  '2020-08-18T10:37:06Z',
  '2020-08-18T10:37:06',
  '2020-08-18T10:37:06+02:00',
  '2020-02-30T10:00:00Z',
  '1969-12-31T23:59:59Z',
  '2100-01-01T00:00:00Z',
  '90',
  '90.0',
  '90.0001',
  '-180',
  '180.5',
  '.5',
  '5.',
  '6f1c4a1e-8f0b-4c1a-9d2e-3b4c5d6e7f80',
  '6f1c4a1e-8f0b-0c1a-0d2e-3b4c5d6e7f80',
  '00000000-0000-0000-0000-000000000000',
  '30d',
  '12h',
  '0s',
  '367d',
  '31622400',
  'person',
  'Ada',
  'Ada\u0000',
  '\u0000',
  'A\u0007da',
  'Ad\u0085a',
  'Ada\n',
  '\tAda',
  '\u202Eadaleon',
  'Ada\u2066x\u2069',
  'A\u200Bda',
  '\u200B',
  '\u200D',
  '\uFEFFAda',
  '\u00A0\u3000',
  'Ada\u2028',
  '\uD800',
  'A\uDC00da',
  'Ame\u0301lie',
  'Am\u00E9lie',
  '\u0344',
  'میر\u200Cحسین',
  '😀',
  '👩\u200D💻',
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(255),
  'x'.repeat(256),
  '😀'.repeat(255),
  '😀'.repeat(256),
  "'; DROP TABLE person; --",
  '<script>alert(1)</script>',
  '%00',
  '../../etc/passwd',
];

const digits = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer(), fc.bigInt({ min: 0n, max: 2n ** 64n })).map(String);
const dates = fc
  .tuple(fc.integer({ min: 1965, max: 2035 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
  .map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
const dateTimes = fc
  .tuple(fc.date({ min: new Date('1960-01-01'), max: new Date('2110-01-01'), noInvalidDate: true }), fc.constantFrom('', 'Z', '+02:00', '-0500', '.123Z'))
  .map(([d, suffix]) => d.toISOString().slice(0, 19) + suffix);
const hostileChars = fc.constantFrom(
  '\u0000',
  '\u001F',
  '\u007F',
  '\u0085',
  '\u061C',
  '\u200B',
  '\u200E',
  '\u202A',
  '\u2066',
  '\u2060',
  '\uFEFF',
  '\u2028',
  '\uD83D',
  ' ',
  '\u3000',
);
const text = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.tuple(fc.string({ unit: 'grapheme', maxLength: 10 }), hostileChars, fc.string({ unit: 'grapheme', maxLength: 10 })).map((p) => p.join('')),
  fc.integer({ min: 1, max: 300 }).map((n) => 'é'.repeat(n)),
);

/** fc.stringMatching is slow to build (a quarter of a second for a long pattern): once per pattern. */
const matchers = new Map<string, fc.Arbitrary<string> | null>();
function matching(pattern: string): fc.Arbitrary<string> | null {
  if (!matchers.has(pattern)) {
    let arbitrary: fc.Arbitrary<string> | null = null;
    try {
      arbitrary = fc.stringMatching(new RegExp(pattern, 'u'));
    } catch {
      // Lookaheads (free text): the text arbitraries make its values.
    }
    matchers.set(pattern, arbitrary);
  }
  return matchers.get(pattern)!;
}

function stringValues(schema: Schema): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [fc.constantFrom(...NASTY_TEXT), digits, dates, dateTimes, text];
  if (typeof schema.pattern === 'string') {
    const matches = matching(schema.pattern);
    if (matches) options.push(matches, matches, matches);
    else options.push(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }));
  }
  if (schema.enum) options.push(fc.constantFrom(...(schema.enum as string[])), fc.constantFrom(...(schema.enum as string[])));
  if (typeof schema.example === 'string') options.push(fc.constant(schema.example), fc.constant(schema.example));
  return fc.oneof(...options);
}

/** Values the schema accepts (mostly): what a fuzzer's positive phase sends. */
function validValues(schema: Schema): fc.Arbitrary<string> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as string[]));
  // Dates: a narrow range, so that date ranges stay inside the documented span.
  if (accepts(doc, schema, '2020-01-01') && !accepts(doc, schema, '2020-02-30')) {
    return fc.date({ min: new Date('2020-01-01'), max: new Date('2020-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
  }
  const matches = typeof schema.pattern === 'string' ? matching(schema.pattern) : null;
  if (matches) return fc.oneof(matches, ...(typeof schema.example === 'string' ? [fc.constant(schema.example)] : []));
  return fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
}

const otherJson = fc.constantFrom<unknown>(null, true, 0, -1, 1.5, '', 'x', [], {}, [1], { a: 1 });

function jsonValues(schemaOrRef: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(doc, schemaOrRef);
  if (schema.anyOf) return fc.oneof(...(schema.anyOf as Schema[]).map((b) => jsonValues(b, depth)), otherJson);
  switch (schema.type) {
    case 'string':
      return fc.oneof({ weight: 8, arbitrary: stringValues(schema) }, { weight: 1, arbitrary: otherJson });
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : -1e6;
      const max = typeof schema.maximum === 'number' ? schema.maximum : 1e6;
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: Math.max(Math.ceil(min), -2_147_483_648), max: Math.min(Math.floor(max), 2_147_483_647) }) },
        { weight: 2, arbitrary: fc.double({ min, max, noNaN: true }) },
        { weight: 2, arbitrary: fc.constantFrom(min, max, min - 1, max + 1, min - 1e-9, max + 1e-9, 0, -0, 2 ** 53, 1e308) },
        { weight: 1, arbitrary: otherJson },
        { weight: 1, arbitrary: digits },
      );
    }
    case 'object': {
      if (depth > 1) return otherJson;
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const record = fc.record(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, jsonValues(v, depth + 1)])), { requiredKeys: [] });
      // Mostly every documented key, sometimes one missing or one unknown.
      const full = fc.record(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, jsonValues(v, depth + 1)])));
      return fc.oneof(
        { weight: 6, arbitrary: full },
        { weight: 3, arbitrary: record },
        { weight: 1, arbitrary: fc.tuple(full, fc.constantFrom('id', 'extra', '__proto__x')).map(([o, k]) => ({ ...o, [k]: 1 })) },
        { weight: 1, arbitrary: otherJson },
      );
    }
    default:
      return otherJson;
  }
}

// ---- requests -------------------------------------------------------------------------------

interface Case {
  method: string;
  path: string;
  template: string;
  query: Record<string, string>;
  /** undefined: no body sent. */
  body?: { contentType: string; text: string; value: unknown };
  /** Whether the document accepts this request; undefined when it cannot say (UNDECIDED). */
  valid: boolean | undefined;
  /** Whether the path and query parameters are valid (then a non-JSON body is a 415). */
  paramsValid: boolean;
}

/** Rules that documents' descriptions state but JSON Schema cannot: the oracle does not decide these requests. */
function undecided(template: string, method: string, query: Record<string, string>, body: unknown): boolean {
  // An opaque page token is valid only as a previous answer gave it.
  if ('cursor' in query || 'page_token' in query) return true;
  if (query.start_date && query.end_date) {
    // end_date ≥ start_date and the span limits are in the descriptions, not in JSON Schema.
    const days = (Date.parse(query.end_date) - Date.parse(query.start_date)) / 86_400_000;
    if (days < 0 || days >= 366) return true;
  }
  // Text limits hold after NFC too (the description): a few rare characters lengthen under NFC.
  if (body && typeof body === 'object' && Object.values(body).some((v) => typeof v === 'string' && [...v.normalize('NFC')].length > [...v].length)) return true;
  if (method === 'post' && template === '/api/locations' && body && typeof body === 'object' && 'creation_time' in body) {
    const t = Date.parse(String(body.creation_time));
    // "not after 1970-01-01, or more than 5 minutes in the future" (the description), near the edge by a margin
    if (!(t > 1000 && t < Date.now() + 4 * 60_000)) return true;
  }
  if (method === 'post' && template === '/api/events' && body && typeof body === 'object' && 'starts_at' in body && 'ends_at' in body) {
    // ends_at after starts_at, at most 31 days later (the description).
    const days = (Date.parse(String(body.ends_at)) - Date.parse(String(body.starts_at))) / 86_400_000;
    if (!(days > 0 && days <= 31)) return true;
  }
  // Closed rings, latitude ranges, PostGIS validity, places and times of the event, overlaps: the descriptions and the data decide.
  if (method === 'post' && /^\/api\/events\/\{event_id\}\/(places|sessions|venue)$/.test(template)) return true;
  return false;
}

function caseArbitrary(template: string, method: string, op: Operation): fc.Arbitrary<Case> {
  const params: Parameter[] = op.parameters ?? [];
  // A path segment cannot be empty, "." or ".." (URLs resolve those away): a fuzzer cannot send them either.
  const paramArbs = (positive: boolean) =>
    Object.fromEntries(
      params.map((p) => {
        const values = positive
          ? fc.oneof({ weight: 9, arbitrary: validValues(p.schema) }, { weight: 1, arbitrary: stringValues(p.schema) })
          : stringValues(p.schema);
        return [p.name, p.in === 'path' ? values.filter((v) => !['', '.', '..'].includes(v)) : fc.option(values, { freq: 3, nil: undefined })];
      }),
    );
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  const bodyArb: fc.Arbitrary<{ contentType: string; value: unknown; text: string } | undefined> = bodySchema
    ? fc.oneof(
        { weight: 12, arbitrary: jsonValues(bodySchema).map((value) => ({ contentType: 'application/json', value, text: JSON.stringify(value) })) },
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('{"first_name":', '[', '"').map((t) => ({ contentType: 'application/json', value: undefined, text: t })) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded').map((ct) => ({ contentType: ct, value: undefined, text: 'a=1' })),
        },
      )
    : fc.constant(undefined);
  const paramsArb = fc.oneof(fc.record(paramArbs(true)), fc.record(paramArbs(false)));
  return fc.record({ params: paramsArb, body: bodyArb }).map(({ params: values, body }) => {
    let path = template;
    const query: Record<string, string> = {};
    let paramsValid = true;
    for (const p of params) {
      // A URL carries UTF-8: a lone surrogate cannot be sent in one (it arrives as U+FFFD).
      const raw: string | undefined = values[p.name];
      const v = raw?.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      if (p.in === 'path') path = path.replace(`{${p.name}}`, encodeURIComponent(v ?? ''));
      else if (v !== undefined) query[p.name] = v;
      if (v === undefined ? p.required === true : !accepts(doc, p.schema, v)) paramsValid = false;
    }
    let valid: boolean | undefined = paramsValid;
    if (bodySchema) {
      if (body === undefined) {
        if (op.requestBody?.required) valid = false;
      } else if (body.contentType !== 'application/json' || body.value === undefined || !accepts(doc, bodySchema, body.value)) valid = false;
    }
    if (valid && undecided(template, method, query, body?.value)) valid = undefined;
    return { method, path, template, query, ...(body ? { body } : {}), valid, paramsValid };
  });
}

interface Outcome {
  status: number;
  contentType: string;
  body: unknown;
  headers: Headers;
}

async function send(c: Case): Promise<Outcome> {
  const qs = new URLSearchParams(c.query).toString();
  const out = await rawRequest(c.method.toUpperCase(), `${h.url}${c.path}${qs ? `?${qs}` : ''}`, h.auth.organizer, c.body);
  let body: unknown = out.body;
  try {
    body = out.body === '' ? undefined : JSON.parse(out.body as string);
  } catch {
    /* not JSON: compared as text */
  }
  return { ...out, body };
}

/** What is wrong with the answer to `c`, or undefined. */
function contradiction(c: Case, op: Operation | undefined, out: Outcome): string | undefined {
  if (out.status >= 500) return `status ${out.status}`;
  if (!op) {
    const allowed = Object.keys(doc.paths[c.template]!).map((m) => m.toUpperCase());
    if (out.status !== 405) return `an undocumented method answered ${out.status}, not 405`;
    const allow = out.headers.get('allow') ?? '';
    if (!allowed.every((m) => allow.includes(m))) return `Allow "${allow}" does not list ${allowed.join(', ')}`;
    return undefined;
  }
  const documented = op.responses[String(out.status)];
  if (!documented) return `status ${out.status} is not documented (${Object.keys(op.responses).join(', ')})`;
  const ok = out.status >= 200 && out.status < 300;
  if (ok && c.valid === false) return `${out.status} for a request the document refuses`;
  if (out.status === 400 && c.valid === true) return `400 for a request the document accepts: ${JSON.stringify(out.body)}`;
  const notJson = c.body !== undefined && c.body.contentType !== 'application/json';
  if (notJson && c.paramsValid && out.status !== 415) return `${out.status} for a ${c.body!.contentType} body (want 415)`;
  if (c.valid === false && !ok && out.status !== 400 && !(notJson && out.status === 415)) return `${out.status} (not 400) for a request the document refuses`;
  if (ok && op.responses[String(out.status)] && c.template === '/api/persons' && c.method === 'get' && !out.headers.get('x-total-count')) {
    return 'no X-Total-Count';
  }
  const schema = documented.content ? Object.values(documented.content)[0]?.schema : undefined;
  if (!ok && !/application\/problem\+json/.test(out.contentType)) return `an error as ${out.contentType}`;
  if (schema && !accepts(doc, schema, out.body))
    return `the body does not match the documented ${out.status} schema: ${JSON.stringify(out.body).slice(0, 300)}`;
  return undefined;
}

/** node's own client: faster than fetch, and it sends any method (fetch refuses TRACE). */
function rawRequest(method: string, url: string, token: string, body?: { contentType: string; text: string }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body) headers['content-type'] = body.contentType;
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          contentType: res.headers['content-type'] ?? '',
          body: text,
          headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
        }),
      );
    });
    req.on('error', reject);
    req.end(body?.text);
  });
}

const OTHER_METHODS = ['TRACE', 'PUT', 'PATCH', 'DELETE', 'POST', 'GET'];

describe('the OpenAPI document says exactly what person-api accepts (fuzzed)', () => {
  it(`≥ 10,000 generated requests: no 5xx, nothing the document contradicts (seed ${SEED})`, async () => {
    const started = Date.now();
    const failures: string[] = [];
    let total = 0;
    const tally = { valid: 0, invalid: 0, undecided: 0 };
    // Reads first, then writes: the writes' new rows would only make the reads slower.
    const operations = Object.entries(doc.paths)
      .flatMap(([template, ops]) => Object.entries(ops).map(([method, op]) => ({ template, method, op })))
      .filter(({ template }) => !process.env.FUZZ_ONLY || template.includes(process.env.FUZZ_ONLY))
      .sort((a, b) => Number(a.method !== 'get') - Number(b.method !== 'get'));
    for (const { template, method, op } of operations) {
      const cases = fc.sample(caseArbitrary(template, method, op), { numRuns: RUNS_PER_OPERATION, seed: SEED });
      // A few requests at a time, as a fuzzer sends them.
      for (let i = 0; i < cases.length; i += 16) {
        await Promise.all(
          cases.slice(i, i + 16).map(async (c) => {
            const out = await send(c);
            total++;
            tally[c.valid === undefined ? 'undecided' : c.valid ? 'valid' : 'invalid']++;
            const wrong = contradiction(c, op, out);
            if (wrong)
              failures.push(`${c.method.toUpperCase()} ${c.path}?${new URLSearchParams(c.query).toString()} ${c.body?.text.slice(0, 200) ?? ''} → ${wrong}`);
          }),
        );
      }
    }
    // Methods the document does not list for a path: 405 with Allow.
    const paths = Object.keys(doc.paths);
    const methodCases = fc.sample(fc.tuple(fc.constantFrom(...paths), fc.constantFrom(...OTHER_METHODS)), { numRuns: 300, seed: SEED });
    for (const [template, verb] of methodCases) {
      if (doc.paths[template]![verb.toLowerCase()] || (verb === 'HEAD' && doc.paths[template]!.get)) continue;
      const path = template.replace(/\{\w+\}/g, '5');
      const out = await rawRequest(verb, `${h.url}${path}`, h.auth.organizer);
      total++;
      const wrong = contradiction({ method: verb, path, template, query: {}, valid: false, paramsValid: true }, undefined, out);
      if (wrong) failures.push(`${verb} ${path} → ${wrong}`);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`openapi fuzz: ${total} requests in ${seconds.toFixed(1)} s (seed ${SEED}; ${JSON.stringify(tally)}); ${failures.length} contradictions`);
    expect(failures.slice(0, 15)).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(10_000);
    // Each kind is really exercised, not only refused requests.
    expect(tally.valid).toBeGreaterThan(2000);
    expect(tally.invalid).toBeGreaterThan(2000);
  }, 240_000);
});
