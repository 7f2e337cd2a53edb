/**
 * The frontend server's settings and proxy, without a browser or a database: the CSP follows
 * TILE_URL and API_BASE_URL, bad values stop it with a message naming the setting, its metrics
 * are on the operator port only, and the /api proxy forwards Authorization but no cookie either
 * way, with its own headers winning over person-api's (a stand-in upstream here;
 * test/browser/frontend-xss.test.ts uses the real one).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectSecurityHeaders, parseCsp, ROOT, startFrontend, type Frontend } from './browser-support';

let dist: string;
beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'udaconnect-page-stub-'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>stub</title>');
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

/** Starts the server with `env`; expects it to refuse and returns what it said. */
function refusal(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/frontend/server/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', METRICS_PORT: '0', API_BASE_URL: '', DIST_DIR: dist, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('img-src follows TILE_URL ({s} becomes a host wildcard) and connect-src the API_BASE_URL origin', async () => {
  const tileUrl = 'https://{s}.tiles.example.org:8443/osm/{z}/{x}/{y}.png';
  const fe = await startFrontend({ DIST_DIR: dist, TILE_URL: tileUrl, API_BASE_URL: 'https://api.example.org/', PERSON_API_URL: 'http://127.0.0.1:1' });
  try {
    const res = await fetch(fe.url);
    const csp = parseCsp(res.headers.get('content-security-policy'));
    expect(csp['img-src']).toEqual(["'self'", 'https://*.tiles.example.org:8443']);
    expect(csp['connect-src']).toEqual(["'self'", 'https://api.example.org']);
    expect(await (await fetch(`${fe.url}config.json`)).json()).toEqual({ apiBaseUrl: 'https://api.example.org/', tileUrl });
  } finally {
    await fe.stop();
  }
}, 60_000);

test.each([
  [{ TILE_URL: 'javascript:alert(1)//{z}/{x}/{y}' }, /TILE_URL.*only http: and https:/],
  [{ TILE_URL: 'https://tiles.example.org/tile.png' }, /TILE_URL.*\{z\}, \{x\} and \{y\}/],
  [{ TILE_URL: 'https://a{s}.example.org/{z}/{x}/{y}.png' }, /TILE_URL.*\{s\} may only be the first label/],
  [{ API_BASE_URL: 'javascript:alert(1)' }, /API_BASE_URL/],
  [{ API_BASE_URL: 'https://user:secret@api.example.org' }, /API_BASE_URL.*credentials/],
])(
  'refuses %j with a message naming the setting',
  async (env, message) => {
    const { code, stderr } = await refusal(env);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
  },
  60_000,
);

test('GET /metrics on the operator port (METRICS_PORT) counts requests by route; the public port does not serve it', async () => {
  const fe = await startFrontend({ DIST_DIR: dist, PERSON_API_URL: 'http://127.0.0.1:1' });
  try {
    const operator = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(fe.log())?.[1];
    expect(operator).toBeDefined();
    expect((await fetch(`${fe.url}config.json`)).status).toBe(200);
    expect((await fetch(`${fe.url}people/5`)).status).toBe(200); // the single page
    expect((await fetch(`${fe.url}api/persons/5`)).status).toBe(502); // person-api is down

    const publicMetrics = await fetch(`${fe.url}metrics`);
    expect(publicMetrics.status).toBe(404);
    expect(publicMetrics.headers.get('content-type')).toContain('application/problem+json');
    expect(await publicMetrics.text()).not.toContain('http_requests_total');

    const scrape = async () => {
      const res = await fetch(`${operator}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return res.text();
    };
    let body = await scrape();
    // Counted when each answer finished: give the last one a moment.
    for (let i = 0; i < 20 && !body.includes('route="/api"'); i++) body = await new Promise((r) => setTimeout(r, 100)).then(scrape);
    expect(body).toContain('process_resident_memory_bytes{service="frontend"}');
    expect(body).toMatch(/^http_requests_total\{method="GET",route="\/config\.json",status="200",service="frontend"\} 1$/m);
    // Route templates, never the paths themselves: the page is one label, the proxy another.
    expect(body).toMatch(/^http_requests_total\{method="GET",route="\/\{\*path\}",status="200",service="frontend"\} 1$/m);
    expect(body).toMatch(/^http_requests_total\{method="GET",route="\/api",status="502",service="frontend"\} 1$/m);
    expect(body).not.toContain('persons/5');
    expect(await (await fetch(`${operator}/healthz`)).json()).toEqual({ status: 'ok' });
  } finally {
    await fe.stop();
  }
}, 60_000);

describe('the /api proxy', () => {
  let upstream: http.Server;
  let seen: http.IncomingHttpHeaders[] = [];
  let fe: Frontend;
  beforeAll(async () => {
    // person-api's stand-in answers with a cookie and a CSP of its own.
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, {
        'content-type': 'application/json',
        'set-cookie': 'tracking=1; Path=/',
        'content-security-policy': 'default-src *',
        'x-frame-options': 'SAMEORIGIN',
      });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    fe = await startFrontend({ DIST_DIR: dist, PERSON_API_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
  }, 60_000);
  afterAll(async () => {
    await fe?.stop();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  test('forwards Authorization and nothing of cookies; its own security headers win; no-store', async () => {
    seen = [];
    const res = await fetch(`${fe.url}api/persons?x=1`, { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'other-app=secret' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.authorization).toBe('Bearer abc.def.ghi');
    expect(seen[0]!.cookie).toBeUndefined();
    expectSecurityHeaders(res.headers, 'proxied answer'); // includes: no Set-Cookie, X-Frame-Options DENY
    expect(parseCsp(res.headers.get('content-security-policy'))).toEqual({
      'default-src': ["'none'"],
      'frame-ancestors': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('an unreachable person-api is a 502 problem with the same headers', async () => {
    const down = await startFrontend({ DIST_DIR: dist, PERSON_API_URL: 'http://127.0.0.1:1' });
    try {
      const res = await fetch(`${down.url}api/me`);
      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expectSecurityHeaders(res.headers, '502');
    } finally {
      await down.stop();
    }
  }, 60_000);
});
