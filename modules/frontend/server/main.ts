/**
 * The frontend server: serves the built page from dist/ (building it first if missing), the
 * runtime config at /config.json (API_BASE_URL, never baked into the build), and proxies /api/*
 * to person-api (PERSON_API_URL) with plain node:http so the browser needs no CORS.
 * Env: PORT (30000; 0 = any free port), PERSON_API_URL (http://localhost:30001), API_BASE_URL ('').
 */
import express from 'express';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

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
  if (personApi.protocol !== 'http:') throw new Error('only http: is supported');
} catch (err) {
  console.error(`frontend: PERSON_API_URL is not a usable http URL: ${(err as Error).message}`);
  process.exit(1);
}
const apiBaseUrl = process.env.API_BASE_URL ?? '';

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
app.get('/healthz', (_req, res) => {
  res.type('text/plain').send('ok');
});
app.get('/config.json', (_req, res) => {
  res.set('cache-control', 'no-store').json({ apiBaseUrl });
});

app.use('/api', (req, res) => {
  const upstream = http.request(
    {
      protocol: personApi.protocol,
      hostname: personApi.hostname,
      port: personApi.port || 80,
      method: req.method,
      path: req.originalUrl,
      headers: { ...req.headers, host: personApi.host },
      timeout: 30_000,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
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

app.use(express.static(DIST, { index: 'index.html', maxAge: '1h', setHeaders: (res, path) => {
  if (path.endsWith('index.html')) res.setHeader('cache-control', 'no-cache');
} }));
// Anything else that wants a page gets the single page.
app.use((req, res, next) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  res.set('cache-control', 'no-cache').sendFile(join(DIST, 'index.html'));
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
