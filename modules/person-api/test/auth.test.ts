/**
 * Who may call what on the REST API (docs/contract.md §2.3), through HTTP: 401 without or with a bad token,
 * 403 for the wrong role or person, device tokens issued and revoked, the JWK set, CORS and the
 * security headers.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { SignJWT, importJWK } from 'jose';
import { createTokenSigner, generateSigningKey, TOKEN_AUDIENCE, TOKEN_ISSUER } from '@udaconnect/common';
import { startTestPersonApi, type Harness } from './harness';
import { bearer } from '../../../test/support/auth';

let h: Harness;
let attendee5: string;
beforeAll(async () => {
  h = await startTestPersonApi('auth');
  attendee5 = await h.auth.attendee(5);
});
afterAll(() => h.close());

const DEVICE = '5b0f4f7e-0000-4000-8000-000000000000';
/** Every path of the OpenAPI document with its parameters filled in. */
const concrete = (path: string) => path.replace('{id}', '5').replace('{device_id}', DEVICE);
const problemJson = /application\/problem\+json/;

async function documentedOperations() {
  const doc = (await request(h.app).get('/openapi.json').expect(200)).body as {
    paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
}

function call(method: string, path: string) {
  const r = request(h.app)[method as 'get' | 'post' | 'delete'](path);
  return method === 'post' ? r.send({}) : r;
}

describe('what needs a token', () => {
  it('the OpenAPI document declares the bearer scheme on every /api operation and none on the public ones', async () => {
    const doc = (await request(h.app).get('/openapi.json').expect(200)).body;
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    const ops = await documentedOperations();
    expect(ops.length).toBeGreaterThan(10);
    for (const { path, op } of ops) {
      if (path.startsWith('/api/')) expect({ path, security: op.security }).toEqual({ path, security: [{ bearerAuth: [] }] });
      else expect({ path, security: op.security }).toEqual({ path, security: [] });
    }
  });

  it('every /api operation answers 401 with WWW-Authenticate: Bearer and problem JSON without a token', async () => {
    const ops = (await documentedOperations()).filter((o) => o.path.startsWith('/api/'));
    for (const { path, method } of ops) {
      const res = await call(method, concrete(path));
      expect({ op: `${method} ${path}`, status: res.status }).toEqual({ op: `${method} ${path}`, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="udaconnect"');
      expect(res.headers['content-type']).toMatch(problemJson);
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('the public endpoints answer without a token', async () => {
    for (const path of ['/', '/openapi.json', '/health', '/healthz', '/readyz', '/.well-known/jwks.json']) {
      const res = await request(h.app).get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  it('publishes the public verification keys, never a private one', async () => {
    const res = await request(h.app).get('/.well-known/jwks.json').expect(200);
    expect(res.body.keys).toHaveLength(1);
    expect(res.body.keys[0]).toEqual(expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', kid: h.auth.key.kid, alg: 'EdDSA' }));
    expect(res.body.keys[0]).not.toHaveProperty('d');
  });
});

describe('bad tokens → 401 invalid_token', () => {
  const expectInvalid = async (authorization: string, detail: RegExp) => {
    const res = await request(h.app).get('/api/persons').set('Authorization', authorization).expect(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="udaconnect", error="invalid_token"/);
    expect(res.body.detail).toMatch(detail);
  };

  it('not a bearer token', () => expectInvalid('Basic dXNlcjpwYXNz', /must be "Bearer <token>"/));
  it('garbage', () => expectInvalid('Bearer abc.def.ghi', /not valid/));
  it('a token signed by a key the services do not know', async () => {
    const stranger = await createTokenSigner(await generateSigningKey());
    const { token } = await stranger.sign({ role: 'organizer', subject: 'organizer:mallory', ttlSeconds: 600 });
    await expectInvalid(`Bearer ${token}`, /unknown key/);
  });
  it('an expired token', async () => {
    const { token } = await h.auth.signer.sign({ role: 'organizer', subject: 'organizer:past', ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 7_000)); // past expiry and the 5 s clock tolerance
    await expectInvalid(`Bearer ${token}`, /expired/);
  }, 15_000);
  it('a token for another audience, or without a role', async () => {
    const key = await importJWK(h.auth.key, 'EdDSA');
    const base = () =>
      new SignJWT({ role: 'organizer' })
        .setProtectedHeader({ alg: 'EdDSA', kid: h.auth.key.kid })
        .setSubject('x')
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('5m');
    await expectInvalid(`Bearer ${await base().setIssuer(TOKEN_ISSUER).setAudience('someone-else').sign(key)}`, /not valid/);
    await expectInvalid(`Bearer ${await base().setIssuer('another-issuer').setAudience(TOKEN_AUDIENCE).sign(key)}`, /not valid/);
    const noRole = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: h.auth.key.kid })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject('x')
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    await expectInvalid(`Bearer ${noRole}`, /known role/);
  });
  it('an unsigned token (alg none)', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ role: 'organizer', sub: 'x', jti: 'y', iat: now, exp: now + 600, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE })}.`;
    // The empty signature does not even look like a JWT to the header check.
    const res = await request(h.app).get('/api/persons').set('Authorization', `Bearer ${token}`).expect(401);
    expect(res.headers['www-authenticate']).toMatch(/invalid_token/);
  });
  it("person-api's own service token opens nothing on the REST API", async () => {
    const { token } = await h.auth.signer.sign({ role: 'service', subject: 'service:person-api', ttlSeconds: 600 });
    await request(h.app).get('/api/persons/5').set(bearer(token)).expect(403);
  });
});

describe('an attendee (person 5) reads and sends for person 5 only', () => {
  const as = (method: 'get' | 'post' | 'delete', path: string) => request(h.app)[method](path).set(bearer(attendee5));

  it('their own person, locations and /api/me; not the list, not others', async () => {
    expect((await as('get', '/api/persons/5').expect(200)).body).toMatchObject({ id: 5, first_name: 'Taco' });
    await as('get', '/api/persons/5/locations').expect(200);
    const me = (await as('get', '/api/me').expect(200)).body;
    expect(me).toMatchObject({ role: 'attendee', person_id: 5, person: { id: 5 } });
    for (const path of ['/api/persons', '/api/persons/6', '/api/persons/6/locations', '/api/persons/6/connection?start_date=2020-01-01&end_date=2020-12-30']) {
      const res = await as('get', path);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      expect(res.body).toMatchObject({ status: 403, title: 'Forbidden' });
    }
  });

  it('a location by id only when it is their own', async () => {
    const own = await h.knex('location').where({ person_id: 5 }).first('id');
    const other = await h.knex('location').whereNot({ person_id: 5 }).first('id');
    expect((await as('get', `/api/locations/${own.id}`).expect(200)).body.person_id).toBe(5);
    await as('get', `/api/locations/${other.id}`).expect(403);
  });

  it('sends a ping for person 5, not for person 6', async () => {
    const ping = (person_id: number) => ({ person_id, latitude: 37.55, longitude: -122.29, creation_time: new Date().toISOString() });
    await as('post', '/api/locations').send(ping(5)).expect(202);
    const res = await as('post', '/api/locations').send(ping(6)).expect(403);
    expect(res.body.detail).toMatch(/person 5 only, not 6/); // the same rule and words as on gRPC
  });

  it('manages no persons or devices', async () => {
    await as('post', '/api/persons').send({ first_name: 'A', last_name: 'B', company_name: 'C' }).expect(403);
    await as('post', '/api/persons/5/devices').send({}).expect(403);
    await as('get', '/api/persons/5/devices').expect(403);
    await as('delete', `/api/devices/${DEVICE}`).expect(403);
  });

  it('an organizer reads anyone', async () => {
    await h.http.get('/api/persons').expect(200);
    await h.http.get('/api/persons/6/locations').expect(200);
    expect((await h.http.get('/api/me').expect(200)).body).toMatchObject({ role: 'organizer', person_id: null });
  });
});

describe('devices: issue and revoke attendee tokens', () => {
  it('issues a token bound to the person, lists the device, and refuses the token once revoked', async () => {
    const issued = await h.http.post('/api/persons/6/devices').send({ label: 'Pixel of <b>Frank</b>', ttl: '2d' }).expect(201);
    expect(issued.body).toEqual({ device_id: expect.any(String), person_id: 6, expires_at: expect.any(String), token: expect.any(String) });
    expect(issued.headers.location).toBe(`/api/devices/${issued.body.device_id}`);
    const lifetime = Date.parse(issued.body.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(2 * 86_400_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(2 * 86_400_000);
    const token = issued.body.token as string;
    expect((await request(h.app).get('/api/me').set(bearer(token)).expect(200)).body).toMatchObject({
      role: 'attendee',
      person_id: 6,
      device_id: issued.body.device_id,
    });
    await request(h.app).get('/api/persons/6/locations').set(bearer(token)).expect(200);
    await request(h.app).get('/api/persons/5/locations').set(bearer(token)).expect(403);

    const listed = (await h.http.get('/api/persons/6/devices').expect(200)).body;
    expect(listed).toContainEqual(expect.objectContaining({ device_id: issued.body.device_id, label: 'Pixel of <b>Frank</b>', revoked_at: null }));
    expect(JSON.stringify(listed)).not.toContain(token);

    await h.http.delete(`/api/devices/${issued.body.device_id}`).expect(204);
    // person-api knows at once; the other services within their poll interval (test/e2e/auth.test.ts).
    const refused = await request(h.app).get('/api/persons/6/locations').set(bearer(token)).expect(401);
    expect(refused.body.detail).toMatch(/revoked/);
    expect(refused.headers['www-authenticate']).toMatch(/invalid_token/);
    await h.http.delete(`/api/devices/${issued.body.device_id}`).expect(204); // twice is fine
    expect((await h.http.get('/api/persons/6/devices').expect(200)).body).toContainEqual(
      expect.objectContaining({ device_id: issued.body.device_id, revoked_at: expect.any(String) }),
    );
  });

  it('refuses an unknown person or device, a bad ttl or label', async () => {
    await h.http.post('/api/persons/999999/devices').send({}).expect(404);
    await h.http.delete(`/api/devices/${randomUUID()}`).expect(404);
    await h.http.delete('/api/devices/not-a-uuid').expect(400);
    expect((await h.http.post('/api/persons/5/devices').send({ ttl: '400d' }).expect(400)).body.errors[0].field).toBe('ttl');
    expect((await h.http.post('/api/persons/5/devices').send({ ttl: 'forever' }).expect(400)).body.errors[0].field).toBe('ttl');
    expect(
      (
        await h.http
          .post('/api/persons/5/devices')
          .send({ label: 'x'.repeat(101) })
          .expect(400)
      ).body.errors[0].field,
    ).toBe('label');
    expect((await h.http.post('/api/persons/5/devices').send({ owner: 'me' }).expect(400)).body.errors[0].field).toBe('owner');
  });

  it('issues a device with the default lifetime when the body is empty', async () => {
    const issued = await h.http.post('/api/persons/5/devices').expect(201);
    expect(Date.parse(issued.body.expires_at) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });
});

describe('CORS', () => {
  it('answers a preflight from a listed origin, allowing the Authorization header and no credentials', async () => {
    const res = await request(h.app)
      .options('/api/persons')
      .set('Origin', 'http://localhost:30000')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:30000');
    expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/i);
    expect(res.headers['access-control-allow-methods']).toMatch(/GET/);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    const actual = await request(h.app).get('/api/persons/5').set('Origin', 'http://localhost:30000').set(bearer(attendee5)).expect(200);
    expect(actual.headers['access-control-allow-origin']).toBe('http://localhost:30000');
  });

  it('gives an unlisted origin nothing to read', async () => {
    const res = await request(h.app)
      .options('/api/persons')
      .set('Origin', 'http://evil.example')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization');
    // Without Access-Control-Allow-Origin the browser refuses the preflight, whatever else is sent.
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const actual = await request(h.app).get('/api/persons/5').set('Origin', 'http://evil.example').set(bearer(attendee5));
    expect(actual.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('security headers on every response', () => {
  const common = (res: request.Response) => {
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['x-powered-by']).toBeUndefined();
  };

  it('API answers (200, 401, 404) forbid loading anything', async () => {
    for (const res of [
      await h.http.get('/api/persons'),
      await request(h.app).get('/api/persons'),
      await request(h.app).get('/nope'),
      await request(h.app).get('/openapi.json'),
    ]) {
      common(res);
      expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    }
  });

  it("Swagger UI's page allows its own files and, by hash, its inline styles; no inline script", async () => {
    const res = await request(h.app).get('/').expect(200);
    common(res);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(csp).toMatch(/style-src 'self' 'sha256-[^']+'/);
    expect(res.text).not.toMatch(/<script>(?!\s*<\/script>)/);
  });
});

describe('LEGACY_ANONYMOUS_READS (migration aid for the old page)', () => {
  let legacy: Harness;
  beforeAll(async () => {
    legacy = await startTestPersonApi('authlegacy', { legacyAnonymousReads: true });
  });
  afterAll(() => legacy.close());

  it('lets anonymous GET of persons, a person and connections through, and nothing else', async () => {
    await request(legacy.app).get('/api/persons').expect(200);
    await request(legacy.app).get('/api/persons/5').expect(200);
    // No connection-service in this harness: the call gets past authentication to the 503.
    await request(legacy.app).get('/api/persons/5/connection?start_date=2020-01-01&end_date=2020-12-30').expect(503);
    await request(legacy.app).get('/api/persons/5/locations').expect(401);
    await request(legacy.app).get('/api/locations/1').expect(401);
    await request(legacy.app).get('/api/me').expect(401);
    await request(legacy.app).post('/api/persons').send({ first_name: 'A', last_name: 'B', company_name: 'C' }).expect(401);
    await request(legacy.app).post('/api/persons/5/devices').expect(401);
    // A token that is sent is still checked.
    await request(legacy.app).get('/api/persons').set('Authorization', 'Bearer a.b.c').expect(401);
    await request(legacy.app)
      .get('/api/persons')
      .set(bearer(await legacy.auth.attendee(5)))
      .expect(403);
  });

  it('is off by default', async () => {
    await request(h.app).get('/api/persons').expect(401);
  });
});
