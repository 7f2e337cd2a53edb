/** Bad input to POST /api/persons: a 4xx problem naming the field, and nothing written. */
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('validation');
});
afterAll(() => h.close());

const countPersons = async () => Number((await h.knex('person').count<{ count: number }[]>('* as count'))[0]!.count);
const valid = { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' };

const jsonCases: Array<[string, unknown, string[]]> = [
  ['a missing field', { first_name: 'Ada', last_name: 'Lovelace' }, ['company_name']],
  ['an empty field', { ...valid, first_name: '' }, ['first_name']],
  ['a blank field', { ...valid, last_name: '   ' }, ['last_name']],
  ['a number instead of a string', { ...valid, company_name: 42 }, ['company_name']],
  ['null', { ...valid, first_name: null }, ['first_name']],
  ['an unknown key', { ...valid, id: 7 }, ['id']],
  ['an array body', [valid], ['body']],
  ['a string body', 'Ada', ['body']],
  ['a name over 255 characters', { ...valid, first_name: 'x'.repeat(256) }, ['first_name']],
];

describe('POST /api/persons rejects bad input', () => {
  it.each(jsonCases)('%s → 400 naming %j, nothing written', async (_what, body, fields) => {
    const before = await countPersons();
    const res = await h.http.post('/api/persons').set('content-type', 'application/json').send(JSON.stringify(body)).expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 });
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(fields);
    expect(await countPersons()).toBe(before);
  });

  it('malformed JSON → 400 naming the body', async () => {
    const before = await countPersons();
    const res = await h.http.post('/api/persons').set('content-type', 'application/json').send('{"first_name": "Ada",').expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.detail).toMatch(/not valid JSON/);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'body' })]);
    expect(await countPersons()).toBe(before);
  });

  it('a 1 MB body → 413 problem naming the body', async () => {
    const before = await countPersons();
    const res = await h.http
      .post('/api/persons')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ ...valid, company_name: 'x'.repeat(1024 * 1024) }))
      .expect(413);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'body' })]);
    expect(await countPersons()).toBe(before);
  });

  it('no JSON content type → 415 naming the body, nothing written', async () => {
    const before = await countPersons();
    const res = await h.http.post('/api/persons').set('content-type', 'text/plain').send('first_name=Ada').expect(415);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ title: 'Unsupported Media Type', status: 415 });
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['body']);
    expect(await countPersons()).toBe(before);
  });
});

describe('unknown routes', () => {
  it('answer 404 problem+json', async () => {
    const res = await h.http.get('/api/nothing-here').expect(404);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
