/**
 * Text fields (docs/contract.md §2.1): every text field of the REST API refuses control, bidi and invisible
 * characters and whitespace-only text with a 400 naming the field (a NUL was a 500: PostgreSQL
 * 22021), counts its limit in code points, and stores text trimmed and NFC-normalised.
 */
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('text-fields');
});
afterAll(() => h.close());

const valid = { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' };
const countPersons = async () => Number((await h.knex('person').count<{ count: number }[]>('* as count'))[0]!.count);

const refused: Array<[string, string]> = [
  ['a NUL byte', 'Ada\u0000'],
  ['a C0 control (BEL)', 'A\u0007da'],
  ['a tab', 'Ada\tLovelace'],
  ['a newline', 'Ada\n'],
  ['DEL', 'Ada\u007F'],
  ['a C1 control (NEL)', 'Ad\u0085a'],
  ['a right-to-left override', '\u202Eecalevol'],
  ['a bidi isolate', 'Ada\u2066x\u2069'],
  ['a left-to-right mark', 'Ada\u200E'],
  ['a zero-width space', 'A\u200Bda'],
  ['a word joiner', 'A\u2060da'],
  ['a byte order mark', '\uFEFFAda'],
  ['a line separator', 'Ada\u2028'],
  ['a lone surrogate', 'A\uD800da'],
  ['spaces only', '   '],
  ['no-break and ideographic spaces only', '\u00A0\u3000'],
  ['a zero-width joiner only', '\u200D'],
  ['256 characters', 'x'.repeat(256)],
  ['256 emoji (code points, not UTF-16 units)', '😀'.repeat(256)],
];

describe('POST /api/persons: text rules', () => {
  it.each(refused)('%s → 400 naming the field, nothing written', async (_what, value) => {
    for (const field of ['first_name', 'last_name', 'company_name'] as const) {
      const before = await countPersons();
      const res = await h.http.post('/api/persons').send({ ...valid, [field]: value });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.errors).toEqual([expect.objectContaining({ field })]);
      expect(await countPersons()).toBe(before);
    }
  });

  it('stores names trimmed and NFC-normalised; joiners, emoji and 255 code points are fine', async () => {
    const res = await h.http
      .post('/api/persons')
      .send({ first_name: '  Ame\u0301lie\u3000', last_name: 'میر\u200Cحسین', company_name: '👩\u200D💻'.repeat(85) })
      .expect(201);
    expect(res.body).toMatchObject({ first_name: 'Am\u00E9lie', last_name: 'میر\u200Cحسین' });
    const row = await h.knex('person').where({ id: res.body.id }).first();
    expect(row.first_name).toBe('Am\u00E9lie');
    expect([...row.company_name].length).toBe(255);
  });

  it('the document states the rule: pattern, lengths in code points, description', async () => {
    const doc = (await h.http.get('/openapi.json').expect(200)).body;
    for (const field of ['first_name', 'last_name', 'company_name']) {
      const schema = doc.components.schemas.NewPerson.properties[field];
      expect(schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
      const pattern = new RegExp(schema.pattern, 'u');
      for (const [, value] of refused.filter(([what]) => !what.startsWith('256'))) expect(pattern.test(value)).toBe(false);
      expect(pattern.test('Ame\u0301lie')).toBe(true);
      expect(schema.description).toMatch(/control characters/);
    }
    expect(doc.components.schemas.NewDevice.properties.label).toMatchObject({
      maxLength: 100,
      pattern: doc.components.schemas.NewPerson.properties.first_name.pattern,
    });
  });
});

describe('POST /api/persons/{id}/devices: the label follows the same rules', () => {
  it.each([
    ['a NUL byte', 'phone\u0000'],
    ['a bidi override', '\u202Ephone'],
    ['spaces only', '  '],
    ['101 characters', 'x'.repeat(101)],
  ])('%s → 400 naming label', async (_what, label) => {
    const res = await h.http.post('/api/persons/1/devices').send({ label }).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'label' })]);
  });

  it('a label is stored trimmed and NFC-normalised', async () => {
    const res = await h.http.post('/api/persons/1/devices').send({ label: ' Ame\u0301lie’s phone ' }).expect(201);
    const row = await h.knex('device').where({ id: res.body.device_id }).first();
    expect(row.label).toBe('Am\u00E9lie’s phone');
  });
});
