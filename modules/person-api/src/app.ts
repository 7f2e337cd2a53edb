import { createHash } from 'node:crypto';
import express from 'express';
import cors from 'cors';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { JSONWebKeySet } from 'jose';
import {
  httpMetrics,
  httpServerTracing,
  type MetricsRegistry,
  notFoundRoute,
  problemHandler,
  type Database,
  type Logger,
  type RevocationList,
  type TokenSigner,
  type TokenVerifier,
} from '@udaconnect/common';
import type { PingMetrics } from '@udaconnect/domain';
import { addHealthRoutes } from './health-routes';
import { createRegistry, openApiDocument } from './openapi';
import { addPersonRoutes } from './person-routes';
import { personRepository } from './person-repository';
import { addLocationRoutes } from './location-routes';
import { locationRepository } from './location-repository';
import { addConnectionRoutes } from './connection-routes';
import { addDeviceRoutes } from './device-routes';
import { addEventRoutes, LARGE_BODY_LIMITS } from './event-routes';
import { eventRepository } from './event-repository';
import { addMeetingRoutes } from './meeting-routes';
import type { MeetingWatcher } from './meeting-client';
import { addPresenceRoutes, type PresenceRouteDeps } from './presence-routes';
import { presenceRepository } from './presence-repository';
import { createRouteGuard } from './http/access';
import { rateLimit, type RateLimits } from './http/rate-limit';
import { createRouteContext, methodNotAllowedRoute } from './http/typed-routes';
import type { ConnectionFinder } from './connection-client';
import type { PingPublishing } from './pings';

export interface PersonApiAuth {
  verifier: TokenVerifier;
  /** Signs device (attendee) tokens and the service token. */
  signer: TokenSigner;
  /** Published at /.well-known/jwks.json. */
  keys: JSONWebKeySet;
  revocations: RevocationList;
  /** Lifetime of a device token when the request names none. */
  deviceTtlSeconds: number;
  /** LEGACY_ANONYMOUS_READS: lets the old page read without a token (migration aid, off by default). */
  legacyAnonymousReads?: boolean;
}

export interface PersonApiDeps {
  db: Database;
  logger: Logger;
  /** Publishes POST /api/locations pings to Kafka, as location-ingest does. */
  publisher: PingPublishing['publisher'];
  personDirectory: PingPublishing['personDirectory'];
  /** Answers GET /api/persons/{id}/connection (connection-service over gRPC). */
  connections: ConnectionFinder;
  /** Relays GET /api/persons/{id}/meetings/live (connection-service's Meetings/Watch). */
  meetings: MeetingWatcher;
  /** The meeting counts of GET /api/persons/{id}/shared. */
  countMeetings: PresenceRouteDeps['countMeetings'];
  auth: PersonApiAuth;
  /** Origins a browser may call the API from (CORS); bearer tokens, never cookies. */
  corsOrigins: string[];
  /** Dependencies reported by /readyz without failing it (Kafka, connection-service). */
  degradedChecks?: Record<string, () => Promise<boolean>>;
  bodyLimit?: string;
  /** Request metrics and ping outcomes go here (served on the operator port, not by this app). */
  metrics?: { registry: MetricsRegistry; pings: PingMetrics };
  /** Requests per window for each caller (http/rate-limit.ts). */
  rateLimits: RateLimits;
  /** Express's "trust proxy" (TRUST_PROXY): which X-Forwarded-For hops decide req.ip. */
  trustProxy?: false | number | string[];
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The one style Swagger UI's script adds at run time: its top-bar logo is an inline SVG with a
 * <style> of its own (swagger-ui-dist 5; test/browser/swagger-ui.test.ts fails if it changes).
 */
const SWAGGER_RUNTIME_STYLES = ['.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}'];

/**
 * Swagger UI's page has two inline <style> blocks and one inline style attribute and nothing
 * else inline (its scripts are files): the CSP allows exactly those, and the logo's, by hash.
 */
function swaggerPage(document: object) {
  const html = swaggerUi.generateHTML(document, { customSiteTitle: 'UdaConnect API', swaggerOptions: { persistAuthorization: false } });
  const blocks = [...[...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!), ...SWAGGER_RUNTIME_STYLES].map(sha256);
  const attributes = [...html.matchAll(/\sstyle="([^"]*)"/g)].map((m) => sha256(m[1]!));
  const csp = helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'", ...new Set(blocks), ...(attributes.length ? ["'unsafe-hashes'", ...new Set(attributes)] : [])],
      // Swagger UI's stylesheet draws its icons as data: SVGs.
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'font-src': ["'self'"],
      'frame-ancestors': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
    },
  });
  return { html, csp };
}

/** The whole REST API as an express app; main.ts only adds the port and signals. */
export function createApp({
  db,
  logger,
  publisher,
  personDirectory,
  connections,
  meetings,
  countMeetings,
  auth,
  corsOrigins,
  degradedChecks,
  metrics,
  bodyLimit = '16kb',
  rateLimits,
  trustProxy = false,
}: PersonApiDeps) {
  const app = express();
  app.disable('x-powered-by');
  // First: a span per request (named by its route once matched), so everything after is in its trace.
  app.use(httpServerTracing());
  if (metrics) app.use(httpMetrics(metrics.registry));
  app.set('query parser', 'simple');
  app.set('trust proxy', trustProxy);
  // JSON answers: nothing may load, run or frame them. Swagger UI's page gets its own policy below.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"], 'base-uri': ["'none'"], 'form-action': ["'none'"] },
      },
      referrerPolicy: { policy: 'no-referrer' },
      // HSTS would pin every port of the host to https (localhost too): left to the TLS terminator.
      strictTransportSecurity: false,
    }),
  );
  app.use(
    cors({
      origin: corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      exposedHeaders: ['Location', 'Retry-After', 'WWW-Authenticate', 'X-Total-Count', 'Link'],
      credentials: false,
      maxAge: 600,
    }),
  );
  // Quotas after CORS (a browser can read the 429) and before the body is read (http/rate-limit.ts).
  app.use(rateLimit(rateLimits, auth.verifier));
  // Places and venue imports are larger: parsed here first, and the global parser skips a parsed body.
  for (const [path, limit] of Object.entries(LARGE_BODY_LIMITS)) app.use(path, express.json({ limit, strict: false }));
  app.use(express.json({ limit: bodyLimit, strict: false }));

  const registry = createRegistry();
  const guard = createRouteGuard({ verifier: auth.verifier, legacyAnonymousReads: auth.legacyAnonymousReads ?? false });
  const ctx = createRouteContext({ router: express.Router(), registry, guard, logger });
  addHealthRoutes(ctx, { database: () => db.isReady() }, degradedChecks);
  const persons = personRepository(db.knex);
  const onErased = (id: number) => {
    auth.revocations.addErasedPerson(id);
    personDirectory.forget(id);
  };
  addPersonRoutes(ctx, { persons, onErased });
  addLocationRoutes(ctx, { persons, locations: locationRepository(db.knex), personDirectory, publisher, ...(metrics ? { metrics: metrics.pings } : {}) });
  addConnectionRoutes(ctx, persons, connections);
  addDeviceRoutes(ctx, { knex: db.knex, persons, signer: auth.signer, revocations: auth.revocations, defaultTtlSeconds: auth.deviceTtlSeconds });
  const events = eventRepository(db.knex);
  addEventRoutes(ctx, events);
  addPresenceRoutes(ctx, { persons, events, presence: presenceRepository(db.knex), countMeetings });
  addMeetingRoutes(ctx, { persons, watcher: meetings });
  app.use(ctx.router);

  const jwks = { keys: auth.keys.keys };
  app.get('/.well-known/jwks.json', (_req, res) => void res.set('cache-control', 'public, max-age=300').json(jwks));

  for (const path of ['/.well-known/jwks.json', '/openapi.json']) ctx.methods.set(path, new Set(['get']));
  const document = openApiDocument(registry);
  app.get('/openapi.json', (_req, res) => void res.json(document));
  const swagger = swaggerPage(document);
  app.get('/', swagger.csp, (_req, res) => void res.type('html').send(swagger.html));
  app.use('/', swaggerUi.serve);

  app.use(methodNotAllowedRoute(ctx));
  app.use(notFoundRoute);
  app.use(problemHandler(logger));
  return app;
}
