import request from 'supertest';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('docs');
});
afterAll(() => h.close());

describe('OpenAPI and Swagger UI', () => {
  it('documents every route with its parameters and problem responses', async () => {
    const doc = (await request(h.app).get('/openapi.json').expect(200)).body;
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/devices/{device_id}',
      '/api/events',
      '/api/events/{event_id}',
      '/api/events/{event_id}/places',
      '/api/events/{event_id}/places/{place_id}',
      '/api/events/{event_id}/sessions',
      '/api/events/{event_id}/sessions/{session_id}',
      '/api/events/{event_id}/venue',
      '/api/locations',
      '/api/locations/{id}',
      '/api/me',
      '/api/persons',
      '/api/persons/{id}',
      '/api/persons/{id}/connection',
      '/api/persons/{id}/devices',
      '/api/persons/{id}/locations',
      '/api/persons/{id}/meetings/live',
      '/api/persons/{id}/shared',
      '/api/persons/{id}/visits',
      '/health',
      '/healthz',
      '/readyz',
    ]);
    expect(Object.keys(doc.paths['/api/persons']).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/api/persons/{id}'].get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(doc.paths['/api/persons'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['limit', 'offset']);
    expect(doc.paths['/api/persons'].post.responses['400'].content).toHaveProperty(['application/problem+json']);
    // The request schema is the validator itself: strict, with every field required.
    expect(doc.components.schemas.NewPerson).toMatchObject({
      required: ['first_name', 'last_name', 'company_name'],
      additionalProperties: false,
    });
    expect(Object.keys(doc.components.schemas.Person.properties).sort()).toEqual(['company_name', 'discoverable', 'first_name', 'id', 'last_name']);
  });

  it('serves Swagger UI at /', async () => {
    const res = await request(h.app).get('/').expect(200).expect('content-type', /html/);
    expect(res.text).toContain('swagger-ui');
    const init = await request(h.app).get('/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('/api/persons/{id}');
  });
});

describe('health endpoints', () => {
  it('/health answers "healthy" as the old API did', async () => {
    const res = await request(h.app).get('/health').expect(200);
    expect(res.body).toBe('healthy');
  });
  it('/healthz is live and /readyz reports the database', async () => {
    await request(h.app).get('/healthz').expect(200, { status: 'ok' });
    // connection-service is not running here: reported, but readiness follows the database only.
    await request(h.app)
      .get('/readyz')
      .expect(200, { status: 'ready', checks: { database: true, kafka: true, connection_service: false } });
  });
});
