/**
 * REST quotas (docs/contract.md §7, "REST quotas"), over HTTP to the running server: per token,
 * per client address without a valid token (refused tokens included), the probes never limited,
 * 429 with Retry-After and problem JSON, and callers let through again once the window ends.
 */
import { personApiConfigSchema } from '../src/config';
import { clientKey } from '../src/http/rate-limit';
import { startTestPersonApi, type Harness } from './harness';

const ORIGIN = 'http://localhost:30000';
const problemJson = /^application\/problem\+json/;

/** A GET through the real server; `from` is sent as X-Forwarded-For. */
async function get(h: Harness, path: string, opts: { token?: string; from?: string } = {}) {
  const headers: Record<string, string> = { origin: ORIGIN };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.from) headers['x-forwarded-for'] = opts.from;
  const res = await fetch(`${h.url}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function statuses(h: Harness, n: number, path: string, opts: { token?: string; from?: string } = {}) {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(h, path, opts)).status);
  return out;
}

const organizerToken = async (h: Harness) => (await h.auth.signer.sign({ role: 'organizer', subject: 'organizer:quota', ttlSeconds: 600 })).token;

describe('within one window (10 minutes: no timing involved)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTestPersonApi('ratelimits', {
      env: { RATE_LIMIT_WINDOW: '10m', RATE_LIMIT_ATTENDEE: '3', RATE_LIMIT_ORGANIZER: '5', RATE_LIMIT_ANONYMOUS: '4', TRUST_PROXY: 'loopback' },
    });
  });
  afterAll(() => h?.close());

  it('an attendee token gets its limit, then 429 with Retry-After and problem JSON; another token still passes', async () => {
    const [mine, other] = [await h.auth.attendee(1), await h.auth.attendee(1)];
    expect(await statuses(h, 3, '/api/persons/1', { token: mine })).toEqual([200, 200, 200]);
    const refused = await get(h, '/api/persons/1', { token: mine });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(problemJson);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 600).toBe(true);
    expect(refused.body).toMatchObject({ type: 'about:blank', title: 'Too Many Requests', status: 429, instance: '/api/persons/1' });
    expect(refused.body!.detail).toBe(`Over the per-token limit of 3 requests per 10 minutes; retry in ${retryAfter} s`);
    // A browser may read it: CORS headers and Retry-After exposed.
    expect(refused.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(refused.headers.get('access-control-expose-headers')).toContain('Retry-After');
    // Every route counts, and still refuses: a route of another rule, a 404 path.
    expect((await get(h, '/api/me', { token: mine })).status).toBe(429);
    expect((await get(h, '/api/nothing-here', { token: mine })).status).toBe(429);
    // Other devices of the same person, and the same address, are not affected.
    expect((await get(h, '/api/persons/1', { token: other })).status).toBe(200);
    expect((await get(h, '/api/persons/1', { token: await organizerToken(h) })).status).toBe(200);
  });

  it('an organizer token has its own, larger limit', async () => {
    const token = await organizerToken(h);
    expect(await statuses(h, 5, '/api/persons?limit=1', { token })).toEqual([200, 200, 200, 200, 200]);
    const refused = await get(h, '/api/persons?limit=1', { token });
    expect(refused.status).toBe(429);
    expect(refused.body!.detail).toMatch(/^Over the per-token limit of 5 requests per 10 minutes; retry in \d+ s$/);
  });

  it('requests without a token count per client address, on every public route together', async () => {
    const from = '203.0.113.10';
    const mixed = [await get(h, '/.well-known/jwks.json', { from }), await get(h, '/openapi.json', { from }), await get(h, '/health', { from })];
    expect(mixed.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await get(h, '/api/persons', { from })).status).toBe(401);
    const refused = await get(h, '/.well-known/jwks.json', { from });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(problemJson);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body!.detail).toMatch(/^Over the per-IP limit \(requests without a valid token\) of 4 requests per 10 minutes; retry in \d+ s$/);
    expect((await get(h, '/', { from })).status).toBe(429);
    // Another address has its own count.
    expect((await get(h, '/.well-known/jwks.json', { from: '203.0.113.11' })).status).toBe(200);
  });

  it('an IPv6 client counts by its /64', async () => {
    expect(await statuses(h, 4, '/health', { from: '2001:db8:1:2::a' })).toEqual([200, 200, 200, 200]);
    expect((await get(h, '/health', { from: '2001:db8:1:2:ffff::b' })).status).toBe(429);
    expect((await get(h, '/health', { from: '2001:db8:1:3::a' })).status).toBe(200);
  });

  it('a refused token counts against the address: guessing tokens meets the per-IP limit, signed-in callers there do not', async () => {
    const from = '203.0.113.20';
    const valid = await h.auth.attendee(5);
    const forged = `${valid.slice(0, -4)}${valid.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect(await statuses(h, 4, '/api/persons/5', { token: forged, from })).toEqual([401, 401, 401, 401]);
    const refused = await get(h, '/api/persons/5', { token: forged, from });
    expect(refused.status).toBe(429);
    expect(refused.body!.detail).toMatch(/per-IP limit/);
    expect((await get(h, '/api/persons/5', { token: 'not-a-token', from })).status).toBe(429);
    expect((await get(h, '/openapi.json', { from })).status).toBe(429);
    // A valid token from the same address (one venue NAT) counts against the token.
    expect((await get(h, '/api/persons/5', { token: valid, from })).status).toBe(200);
  });

  it('the health probes are never limited', async () => {
    const from = '203.0.113.30';
    expect(await statuses(h, 4, '/health', { from })).toEqual([200, 200, 200, 200]);
    expect((await get(h, '/health', { from })).status).toBe(429);
    // The address is over its limit: each answer below would be a 429 if it counted.
    expect(await statuses(h, 6, '/healthz', { from })).toEqual([200, 200, 200, 200, 200, 200]);
    // /readyz waits for the unreachable connection-service's check: one call of each spelling.
    for (const path of ['/healthz/', '/readyz', '/READYZ/']) expect({ path, status: (await get(h, path, { from })).status }).toEqual({ path, status: 200 });
    const attendee = await h.auth.attendee(6);
    expect(await statuses(h, 6, '/healthz', { token: attendee })).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await statuses(h, 3, '/api/persons/6', { token: attendee })).toEqual([200, 200, 200]);
  });

  it('the OpenAPI document lists 429 for every operation but the probes', async () => {
    const doc = (await get(h, '/openapi.json', { from: '203.0.113.40' })).body as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; content?: object }> }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThan(10);
    for (const { path, method, op } of operations) {
      const has429 = op.responses['429'] !== undefined;
      expect({ path, method, has429 }).toEqual({ path, method, has429: !['/healthz', '/readyz'].includes(path) });
      if (has429) {
        expect(op.responses['429']!.content).toHaveProperty(['application/problem+json']);
        expect(op.responses['429']!.description).toContain('request quota');
      }
    }
    // The connection query's own 429 (queries at once) is kept beside the quota's.
    expect(doc.paths['/api/persons/{id}/connection']!.get!.responses['429']!.description).toMatch(/connection queries running.*request quota/);
  });
});

describe('across windows (2 s), and without TRUST_PROXY', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTestPersonApi('ratelimitwindow', { env: { RATE_LIMIT_WINDOW: '2s', RATE_LIMIT_ATTENDEE: '2', RATE_LIMIT_ANONYMOUS: '2' } });
  });
  afterAll(() => h?.close());

  /** Requests until the first 429 (at most `max`): its Retry-After, or undefined when none came. */
  async function untilRefused(max: number, send: (i: number) => ReturnType<typeof get>) {
    for (let i = 0; i < max; i++) {
      const res = await send(i);
      if (res.status === 429) return Number(res.headers.get('retry-after'));
      expect(res.status).toBe(200);
    }
    return undefined;
  }

  it('once the window is over, a refused token passes again', async () => {
    const token = await h.auth.attendee(8);
    const retryAfter = await untilRefused(50, () => get(h, '/api/persons/8', { token }));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, retryAfter! * 1000 + 100));
    expect((await get(h, '/api/persons/8', { token })).status).toBe(200);
  });

  it('X-Forwarded-For is ignored by default: a client cannot choose the address it counts as', async () => {
    const retryAfter = await untilRefused(50, (i) => get(h, '/health', { from: `198.51.100.${i + 1}` }));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
  });
});

describe('configuration', () => {
  const required = { DATABASE_URL: 'postgresql://x/y', KAFKA_BROKERS: 'k:9092', AUTH_JWKS_FILE: 'j', AUTH_SIGNING_KEY_FILE: 'k' };
  const parse = (env: Record<string, string>) => personApiConfigSchema.safeParse({ ...required, ...env });

  it('defaults: 300 per attendee token, 6000 per organizer token, 600 per address, per minute; no proxy trusted', () => {
    expect(parse({}).data).toMatchObject({
      RATE_LIMIT_ATTENDEE: 300,
      RATE_LIMIT_ORGANIZER: 6000,
      RATE_LIMIT_ANONYMOUS: 600,
      RATE_LIMIT_WINDOW: 60,
      TRUST_PROXY: false,
    });
  });

  it('TRUST_PROXY takes hops or proxy addresses; true and nonsense are refused', () => {
    expect(parse({ TRUST_PROXY: '1' }).data?.TRUST_PROXY).toBe(1);
    expect(parse({ TRUST_PROXY: '10.42.0.0/16, loopback' }).data?.TRUST_PROXY).toEqual(['10.42.0.0/16', 'loopback']);
    expect(parse({ TRUST_PROXY: 'true' }).success).toBe(false);
    expect(parse({ TRUST_PROXY: 'proxy.local' }).success).toBe(false);
    expect(parse({ RATE_LIMIT_ATTENDEE: '-1' }).success).toBe(false);
  });

  it('client keys: IPv4-mapped as IPv4, IPv6 by /64', () => {
    expect(clientKey('::ffff:192.0.2.1')).toBe('ip:192.0.2.1');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('ip:2001:db8:1:2::/64');
    expect(clientKey(undefined)).toBe('ip:unknown');
  });
});
