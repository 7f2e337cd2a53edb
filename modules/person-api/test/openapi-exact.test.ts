/**
 * Case by case, what an outside fuzzer found the OpenAPI document allowed and the
 * API refused (or the reverse). Each value is refused by both, or accepted by both; other methods
 * are 405 with Allow; a body that is not JSON is 415. openapi-fuzz.test.ts generalises this.
 */
import { request as httpRequest } from 'node:http';
import { startTestPersonApi, type Harness } from './harness';
import { accepts, type OpenApiDocument, type Parameter } from './openapi-schema';

let h: Harness;
let doc: OpenApiDocument;
beforeAll(async () => {
  h = await startTestPersonApi('openapi-exact');
  doc = (await h.http.get('/openapi.json').expect(200)).body;
});
afterAll(() => h.close());

const param = (path: string, name: string, method = 'get') => doc.paths[path]![method]!.parameters!.find((p: Parameter) => p.name === name)!.schema;
const bodyField = (schema: string, field: string) => (doc.components.schemas[schema]!.properties as Record<string, Record<string, unknown>>)[field]!;

describe('the document refuses what the API refuses', () => {
  it.each(['0', '00', '01', '-1', '1.5', '2147483648'])('person id %j: 400, and the document refuses it', async (id) => {
    expect(accepts(doc, param('/api/persons/{id}', 'id'), id)).toBe(false);
    await h.http.get(`/api/persons/${id}`).expect(400);
  });

  it.each(['9007199254740992', '9007199254740993', '1e3', '-1', ''])('offset %j: 400, and the document refuses it', async (offset) => {
    expect(accepts(doc, param('/api/persons', 'offset'), offset)).toBe(false);
    await h.http.get(`/api/persons?offset=${offset}`).expect(400);
  });

  it.each(['2020-02-30', '2021-02-29', '2020-13-01', '2020-00-10', '2020-1-1'])('date %j: 400, and the document refuses it', async (date) => {
    expect(accepts(doc, param('/api/persons/{id}/locations', 'start_date'), date)).toBe(false);
    await h.http.get(`/api/persons/1/locations?start_date=${date}`).expect(400);
  });

  it('2020-02-29 exists: both accept it', async () => {
    expect(accepts(doc, param('/api/persons/{id}/locations', 'start_date'), '2020-02-29')).toBe(true);
    await h.http.get('/api/persons/1/locations?start_date=2020-02-29').expect(200);
  });

  it.each([
    ['latitude', 90.5],
    ['latitude', '-90.0001'],
    ['latitude', '1e2'],
    ['longitude', 180.000001],
    ['longitude', '-181'],
    ['longitude', ' 5'],
  ])('%s %j: 400, and the document refuses it', async (field, value) => {
    expect(accepts(doc, bodyField('NewLocation', field), value)).toBe(false);
    const res = await h.http
      .post('/api/locations')
      .send({ person_id: 1, latitude: 10, longitude: 10, creation_time: '2020-08-18T10:37:06Z', [field]: value })
      .expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field })]);
  });

  it.each(['   ', '\u0000', 'A\u202Eda'])('name %j: 400, and the document refuses it', async (name) => {
    expect(accepts(doc, bodyField('NewPerson', 'first_name'), name)).toBe(false);
    await h.http.post('/api/persons').send({ first_name: name, last_name: 'L', company_name: 'C' }).expect(400);
  });

  it.each(['0s', '367d', '1 d', '030d'])('device ttl %j: 400, and the document refuses it', async (ttl) => {
    expect(accepts(doc, bodyField('NewDevice', 'ttl'), ttl)).toBe(false);
    await h.http.post('/api/persons/1/devices').send({ ttl }).expect(400);
  });

  it('a device body is optional, and the document says so', async () => {
    expect(doc.paths['/api/persons/{id}/devices']!.post!.requestBody!.required).toBe(false);
    await h.http.post('/api/persons/1/devices').expect(201);
  });
});

function send(method: string, path: string): Promise<{ status: number; allow?: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${h.auth.organizer}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('methods and media types', () => {
  it.each([
    ['TRACE', '/api/persons', 'GET, HEAD, POST'],
    ['PUT', '/api/persons/5', 'DELETE, GET, HEAD, PATCH'],
    ['DELETE', '/api/persons', 'GET, HEAD, POST'],
    ['TRACE', '/health', 'GET, HEAD'],
    ['POST', '/openapi.json', 'GET, HEAD'],
  ])('%s %s → 405 problem with Allow: %s', async (method, path, allow) => {
    const res = await send(method, path);
    expect(res).toMatchObject({ status: 405, allow });
    expect(res.type).toMatch(/application\/problem\+json/);
  });

  it('an unknown path is still 404', async () => {
    expect((await send('TRACE', '/api/nothing')).status).toBe(404);
  });

  it.each([
    ['/api/persons', 'text/plain', 'Ada'],
    ['/api/locations', 'application/x-www-form-urlencoded', 'person_id=1'],
    ['/api/persons/1/devices', 'text/plain', 'label'],
  ])('POST %s with %s → 415, listed in the document', async (path, type, body) => {
    const res = await h.http.post(path).set('content-type', type).send(body).expect(415);
    expect(res.body).toMatchObject({ status: 415, errors: [expect.objectContaining({ field: 'body' })] });
    const template = path.replace('/1/', '/{id}/');
    expect(doc.paths[template]!.post!.responses).toHaveProperty('415');
  });
});
