/**
 * The frontend server: serves the built page from dist/ (building it first if missing), the
 * runtime config at /config.json (API_BASE_URL, never baked into the build), and proxies /api/*
 * to person-api (PERSON_API_URL) with plain node:http so the browser needs no CORS.
 * Env: PORT (30000; 0 = any free port), PERSON_API_URL (http://localhost:30001), API_BASE_URL ('').
 * PERSON_API_URL may be https://…; PERSON_API_CA_FILE (PEM) is then the CA trusted for it (else the system's).
 * TILE_URL (https://tile.openstreetmap.org/{z}/{x}/{y}.png): the map's tile server, served to the page
 * in /config.json; it is the only foreign origin the page may load images from.
 * DIST_DIR (modules/frontend/dist): the built page; only the default is built when missing.
 *
 * Every response (page, assets, /config.json, /healthz, 404s, errors and the proxied /api answers)
 * carries helmet's security headers and the page's Content-Security-Policy (see pageCsp below);
 * the /api answers a stricter one (apiCsp), as they are data, not documents.
 * The proxy forwards the caller's headers (Authorization included) but never cookies, either way.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_DIST = join(ROOT, 'dist');
const DIST = process.env.DIST_DIR ? resolve(process.env.DIST_DIR) : DEFAULT_DIST;

function env(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
}

const port = Number(env('PORT', '30000'));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`frontend: PORT must be an integer 0..65535, got "${process.env.PORT}"`);
  process.exit(1);
}
let personApi: URL;
try {
  personApi = new URL(env('PERSON_API_URL', 'http://localhost:30001'));
  if (personApi.protocol !== 'http:' && personApi.protocol !== 'https:') throw new Error('only http: and https: are supported');
} catch (err) {
  console.error(`frontend: PERSON_API_URL is not a usable http(s) URL: ${(err as Error).message}`);
  process.exit(1);
}
const personApiTls = personApi.protocol === 'https:';
let personApiCa: Buffer | undefined;
if (process.env.PERSON_API_CA_FILE) {
  try {
    personApiCa = readFileSync(process.env.PERSON_API_CA_FILE);
  } catch (err) {
    console.error(
      `frontend: PERSON_API_CA_FILE: cannot read ${process.env.PERSON_API_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
    process.exit(1);
  }
  if (!personApiTls) console.warn('frontend: PERSON_API_CA_FILE is set but PERSON_API_URL is not https://; it is not used');
}
const apiBaseUrl = process.env.API_BASE_URL ?? '';
/** The API's origin when the page calls it elsewhere ('' and a path are this origin: 'self'). */
let apiOrigin: string | null = null;
if (apiBaseUrl !== '' && !apiBaseUrl.startsWith('/')) {
  try {
    const u = new URL(apiBaseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http: and https: are supported');
    if (u.username || u.password) throw new Error('it must not carry credentials');
    apiOrigin = u.origin;
  } catch (err) {
    console.error(`frontend: API_BASE_URL must be empty, a path, or an http(s) URL: ${(err as Error).message}`);
    process.exit(1);
  }
}

const DEFAULT_TILE_URL = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
/**
 * The CSP source for a Leaflet tile URL template: its scheme, host and port. A `{s}` subdomain
 * may only be the host's first label (it becomes CSP's `*.` wildcard).
 */
function tileSource(template: string): string {
  if (!/\{z\}/.test(template) || !/\{x\}/.test(template) || !/\{-?y\}/.test(template)) {
    throw new Error('it must be a tile URL template with {z}, {x} and {y}');
  }
  const u = new URL(template.replace(/\{s\}/g, 'subdomain-placeholder').replace(/\{-?[a-z]+\}/gi, '0'));
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http: and https: are supported');
  if (u.username || u.password) throw new Error('it must not carry credentials');
  let host = u.host;
  if (host.includes('subdomain-placeholder')) {
    if (!host.startsWith('subdomain-placeholder.')) throw new Error('{s} may only be the first label of the host name');
    host = `*${host.slice('subdomain-placeholder'.length)}`;
  }
  return `${u.protocol}//${host}`;
}
const tileUrl = env('TILE_URL', DEFAULT_TILE_URL);
let tileOrigin: string;
try {
  tileOrigin = tileSource(tileUrl);
} catch (err) {
  console.error(`frontend: TILE_URL is not a usable tile URL template: ${(err as Error).message}`);
  process.exit(1);
}

/**
 * The page's Content-Security-Policy. Nothing inline: the built page is one module script and one
 * stylesheet from 'self' (Vite inlines no assets: build.assetsInlineLimit 0), React and Leaflet
 * set styles through the CSSOM, which style-src does not govern. Images: 'self' and the tile
 * server only; fetches: 'self' (the /api proxy) and the API's origin when API_BASE_URL points
 * elsewhere. Everything else is refused ('none'), the page may not be framed, and <base> and
 * form submissions are off.
 */
const pageCsp = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", tileOrigin],
  connectSrc: ["'self'", ...(apiOrigin ? [apiOrigin] : [])],
  fontSrc: ["'self'"],
  manifestSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

if (DIST !== DEFAULT_DIST && !existsSync(join(DIST, 'index.html'))) {
  console.error(`frontend: DIST_DIR ${DIST} holds no index.html (build the page with vite build --outDir)`);
  process.exit(1);
}
if (!existsSync(join(DIST, 'index.html'))) {
  console.log('frontend: dist/ missing, running vite build…');
  const vite = join(ROOT, '..', '..', 'node_modules', '.bin', 'vite');
  const r = spawnSync(existsSync(vite) ? vite : 'npx', existsSync(vite) ? ['build'] : ['vite', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('frontend: vite build failed');
    process.exit(1);
  }
}

const app = express();
app.disable('x-powered-by');
app.use(
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: pageCsp },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // This server speaks plain HTTP; HSTS belongs to whatever terminates TLS in front of it
    // (and would pin "localhost" to HTTPS in a developer's browser).
    strictTransportSecurity: false,
  }),
);
app.get('/healthz', (_req, res) => {
  res.type('text/plain').send('ok');
});
app.get('/config.json', (_req, res) => {
  res.set('cache-control', 'no-store').json({ apiBaseUrl, tileUrl });
});

// The proxied answers are data, never a document: nothing may load, run or frame them (the same
// policy person-api gives its JSON), whatever person-api sends.
const apiCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
});
app.use('/api', apiCsp, (req, res) => {
  const upstream = (personApiTls ? https : http).request(
    {
      protocol: personApi.protocol,
      hostname: personApi.hostname,
      port: personApi.port || (personApiTls ? 443 : 80),
      ...(personApiCa ? { ca: personApiCa } : {}),
      method: req.method,
      path: req.originalUrl,
      headers: { ...withoutCookies(req.headers), host: personApi.host },
      timeout: 30_000,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, proxiedResponseHeaders(res, up.headers));
      up.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('person-api timed out')));
  upstream.on('error', (err) => {
    if (res.headersSent) return void res.destroy(err);
    res
      .status(502)
      .type('application/problem+json')
      .send(JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: `person-api is unreachable (${err.message})` }));
  });
  req.pipe(upstream);
});

/** Bearer tokens only: the browser's cookies (shared by every port of localhost) stay here. */
function withoutCookies(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const { cookie: _cookie, ...rest } = headers;
  return rest;
}

/**
 * person-api's answer headers, minus Set-Cookie, with this server's security headers (already on
 * `res`, from helmet) taking precedence over any of the same name; no-store unless the API says
 * otherwise, as its answers hold personal data.
 */
function proxiedResponseHeaders(res: Response, upstream: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { ...upstream };
  delete headers['set-cookie'];
  for (const name of res.getHeaderNames()) delete headers[name];
  if (headers['cache-control'] === undefined) headers['cache-control'] = 'no-store';
  return headers;
}

app.use(
  express.static(DIST, {
    index: 'index.html',
    maxAge: '1h',
    setHeaders: (res, path) => {
      if (path.endsWith('index.html')) res.setHeader('cache-control', 'no-cache');
    },
  }),
);
// Anything else that wants a page gets the single page; a missing file (e.g. /assets/old.js) is a 404.
app.use((req, res, next) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  if (/\.[A-Za-z0-9]+$/.test(req.path)) return next();
  res.set('cache-control', 'no-cache').sendFile(join(DIST, 'index.html'));
});

function sendProblem(res: Response, status: number, title: string, detail: string) {
  res
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', title, status, detail }));
}
// Own 404 and error answers (problem+json) rather than Express's HTML ones, keeping the headers above.
app.use((_req, res) => sendProblem(res, 404, 'Not Found', 'Nothing is served at this address.'));
app.use((err: Error & { status?: number; statusCode?: number }, _req: Request, res: Response, next: NextFunction) => {
  if (res.headersSent) return next(err);
  const status = err.status ?? err.statusCode ?? 500;
  if (status >= 500) console.error(`frontend: ${err.stack ?? err.message}`);
  sendProblem(res, status, http.STATUS_CODES[status] ?? 'Error', status >= 500 ? 'The frontend server failed.' : err.message);
});

const server = app.listen(port, () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`frontend listening on http://localhost:${actual}/ (proxying /api to ${personApi.origin})`);
});
server.on('error', (err) => {
  console.error(`frontend: ${err.message}`);
  process.exit(1);
});

function shutdown(signal: string) {
  console.log(`frontend: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, 5_000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
