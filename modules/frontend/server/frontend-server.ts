/**
 * The frontend server: serves the built page from dist/ (building it first if missing), the
 * runtime config at /config.json (API_BASE_URL, never baked into the build), and proxies /api/*
 * to person-api (PERSON_API_URL) with plain node:http so the browser needs no CORS. Settings:
 * config.ts (docs/configuration.md). PERSON_API_URL may be https://…; PERSON_API_CA_FILE (PEM) is
 * then the CA trusted for it (else the system's). TILE_URL is served to the page in /config.json;
 * it is the only foreign origin the page may load images from.
 *
 * Every response (page, assets, /config.json, /healthz, 404s, errors and the proxied /api answers)
 * carries helmet's security headers and the page's Content-Security-Policy (see pageCsp below);
 * the /api answers a stricter one (apiCsp), as they are data, not documents.
 * The proxy forwards the caller's headers (Authorization included) but never cookies, either way.
 *
 * Prometheus metrics (requests by route) are on the operator port (METRICS_PORT), never this one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join, resolve } from 'node:path';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import {
  closeHttpServer,
  createMetricsRegistry,
  HttpProblem,
  httpMetrics,
  httpServerTracing,
  listen,
  notFoundRoute,
  sendProblem,
  startOperatorServer,
  type Logger,
  type ShutdownStep,
} from '@udaconnect/common';
import { apiOrigin, tileSource, type FrontendConfig } from './config';

const ROOT = join(__dirname, '..');
const DEFAULT_DIST = join(ROOT, 'dist');
/** How long closing waits for requests in flight (a proxied one may take 30 s) before cutting them. */
const CLOSE_GRACE_MS = 5_000;

export interface FrontendServer {
  port: number;
  /** The operator port: /metrics and /healthz (METRICS_PORT). */
  metricsPort: number;
  /** In order: stop accepting requests (in-flight ones get 5 s), then close the operator port. */
  shutdownSteps: ShutdownStep[];
}

export async function startFrontendServer(config: FrontendConfig, logger: Logger): Promise<FrontendServer> {
  const personApi = new URL(config.PERSON_API_URL);
  const personApiCa = readPersonApiCa(config, logger);
  const dist = ensureDist(config.DIST_DIR, logger);
  const registry = createMetricsRegistry('frontend');
  const app = createApp({ config, logger, dist, personApi, personApiCa, metrics: httpMetrics(registry) });

  const operator = await startOperatorServer({ registry, port: config.METRICS_PORT, host: config.METRICS_HOST, logger });
  const server = http.createServer(app);
  let port: number;
  try {
    port = await listen(server, config.PORT);
  } catch (err) {
    await operator.close();
    throw err;
  }
  logger.info({ port }, `frontend listening on http://localhost:${port}/ (proxying /api to ${personApi.origin})`);
  return {
    port,
    metricsPort: operator.port,
    shutdownSteps: [
      { name: 'http', run: () => closeWithin(server, CLOSE_GRACE_MS) },
      { name: 'metrics', run: () => operator.close() },
    ],
  };
}

/** closeHttpServer, cutting the connections still open after `ms`. */
async function closeWithin(server: http.Server, ms: number): Promise<void> {
  const timer = setTimeout(() => server.closeAllConnections(), ms);
  try {
    await closeHttpServer(server);
  } finally {
    clearTimeout(timer);
  }
}

function readPersonApiCa(config: FrontendConfig, logger: Logger): Buffer | undefined {
  const file = config.PERSON_API_CA_FILE;
  if (!file) return undefined;
  let ca: Buffer;
  try {
    ca = readFileSync(file);
  } catch (err) {
    throw new Error(`PERSON_API_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!config.PERSON_API_URL.startsWith('https:')) logger.warn('PERSON_API_CA_FILE is set but PERSON_API_URL is not https://; it is not used');
  return ca;
}

/** The folder of the built page: DIST_DIR (which must hold one), or dist/, built when missing. */
function ensureDist(dirSetting: string | undefined, logger: Logger): string {
  const dist = dirSetting ? resolve(dirSetting) : DEFAULT_DIST;
  if (existsSync(join(dist, 'index.html'))) return dist;
  if (dist !== DEFAULT_DIST) throw new Error(`DIST_DIR: ${dist} holds no index.html (build the page with vite build --outDir)`);
  logger.info('dist/ missing, running vite build…');
  const vite = join(ROOT, '..', '..', 'node_modules', '.bin', 'vite');
  const [command, args] = existsSync(vite) ? [vite, ['build']] : ['npx', ['vite', 'build']];
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`);
  logger.info('page built into dist/');
  return dist;
}

interface AppDeps {
  config: FrontendConfig;
  logger: Logger;
  dist: string;
  personApi: URL;
  personApiCa: Buffer | undefined;
  metrics: RequestHandler;
}

function createApp({ config, logger, dist, personApi, personApiCa, metrics }: AppDeps) {
  const apiBaseUrl = config.API_BASE_URL ?? '';
  const tileUrl = config.TILE_URL;
  const origin = apiOrigin(apiBaseUrl);
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
    imgSrc: ["'self'", tileSource(tileUrl)],
    connectSrc: ["'self'", ...(origin ? [origin] : [])],
    fontSrc: ["'self'"],
    manifestSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  };

  const app = express();
  app.disable('x-powered-by');
  // First: a span per request (named by its route once matched), then its count and duration.
  app.use(httpServerTracing());
  app.use(metrics);
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
  const personApiTls = personApi.protocol === 'https:';
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
    // A client that goes away (a closed tab, an aborted fetch such as the page's live-meetings
    // stream) ends the request to person-api too, which would otherwise stream on to nobody.
    let clientGone = false;
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      upstream.destroy();
    });
    upstream.on('error', (err) => {
      if (clientGone) return;
      if (res.headersSent) return void res.destroy(err);
      logger.warn({ err: err.message }, 'person-api unreachable');
      sendProblem(res, new HttpProblem(502, 'Bad Gateway', `person-api is unreachable (${err.message})`), req.originalUrl);
    });
    req.pipe(upstream);
  });

  // Prometheus scrapes the operator port; here /metrics is a 404, not the page, so a scraper
  // pointed at the wrong port fails plainly.
  app.all('/metrics', notFoundRoute);

  // The page: its files, and the single page for anything else that wants one (a missing file,
  // e.g. /assets/old.js, is a 404). One route, so the metrics and spans name it `/{*path}`.
  const files = express.static(dist, {
    index: 'index.html',
    maxAge: '1h',
    setHeaders: (res, path) => {
      if (path.endsWith('index.html')) res.setHeader('cache-control', 'no-cache');
    },
  });
  app.get('/{*path}', files, (req, res, next) => {
    if (/\.[A-Za-z0-9]+$/.test(req.path)) return next();
    res.set('cache-control', 'no-cache').sendFile(join(dist, 'index.html'));
  });

  // problem+json 404 and error answers rather than Express's HTML ones, keeping the headers above.
  app.use(notFoundRoute);
  app.use(problemAnswer(logger));
  return app;
}

/** Errors (a bad path for the static files, a failure) as problem+json, by their own status. */
function problemAnswer(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; statusCode?: unknown; message?: unknown };
    const given = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
    const status = given >= 400 && given <= 599 ? given : 500;
    if (status >= 500) logger.error({ err, path: req.path }, 'request failed');
    const detail = status >= 500 || typeof e.message !== 'string' ? 'The frontend server failed.' : e.message;
    sendProblem(res, new HttpProblem(status, http.STATUS_CODES[status] ?? 'Error', detail), req.originalUrl);
  };
}

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
