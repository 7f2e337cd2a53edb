/**
 * Declares each REST route once: its zod schemas validate the request and document it in
 * OpenAPI, so the docs cannot drift from what the code accepts.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { methodNotAllowed, parseOrThrow, unsupportedMediaType, type Logger, type Principal } from '@udaconnect/common';
import { authorize, BEARER_SCHEME, type Access, type RouteGuard } from './access';
import { UNLIMITED_PATHS } from './rate-limit';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType> {
  method: Method;
  /** OpenAPI-style path, e.g. /api/persons/{id}. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Who may call it: required, so no route exists without an access rule (see access.ts). */
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseConfig>;
  /**
   * `principal` is the verified caller; undefined only on public routes and on legacy anonymous
   * reads (access.ts). Checks that depend on the data (whose location is this?) belong here.
   */
  handler: (input: {
    params: z.infer<P>;
    query: z.infer<Q>;
    body: z.infer<B>;
    principal: Principal | undefined;
    req: Request;
    res: Response;
  }) => Promise<void> | void;
}

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/** A problem+json response for the OpenAPI document. */
export const problemResponse = (description: string): ResponseConfig => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

export const jsonResponse = (description: string, schema: z.ZodType): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
});

const QUOTA = "Over the caller's request quota: per token, or per IP without a valid token (RATE_LIMIT_*); Retry-After says when to retry";

/** The router, the OpenAPI registry and the access guard every route is added with. */
export interface RouteContext {
  router: Router;
  registry: OpenAPIRegistry;
  guard: RouteGuard;
  logger: Logger;
  /** Each route's path template and its methods, for 405 answers (methodNotAllowedRoute). */
  methods: Map<string, Set<string>>;
}

export function createRouteContext(parts: Omit<RouteContext, 'methods'>): RouteContext {
  return { ...parts, methods: new Map() };
}

/**
 * After the routes: a known path asked with another method (TRACE, PUT, …) is a 405 with an Allow
 * header (RFC 9110 §15.5.6), not a 404. HEAD is allowed wherever GET is; OPTIONS is CORS's.
 */
export function methodNotAllowedRoute(ctx: RouteContext): RequestHandler {
  const templates = [...ctx.methods].map(([path, methods]) => {
    const allowed = [...methods].map((m) => m.toUpperCase());
    if (allowed.includes('GET')) allowed.push('HEAD');
    return { pattern: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}/?$`), allowed: allowed.sort() };
  });
  return (req, _res, next) => {
    const route = templates.find((t) => t.pattern.test(req.path));
    if (!route || route.allowed.includes(req.method)) return next();
    next(methodNotAllowed(req.method, req.path, route.allowed));
  };
}

export function addRoute<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType>(ctx: RouteContext, spec: RouteSpec<P, Q, B>): void {
  const { router, registry, guard } = ctx;
  const isPublic = spec.access.rule === 'public';
  const quota = UNLIMITED_PATHS.has(spec.path) ? undefined : [spec.responses[429]?.description, QUOTA].filter(Boolean).join('; or ');
  const methods = ctx.methods.get(spec.path) ?? new Set<string>();
  ctx.methods.set(spec.path, methods.add(spec.method));
  // A body schema that accepts nothing (undefined) makes the body optional.
  const bodyRequired = spec.body ? !spec.body.safeParse(undefined).success : false;
  registry.registerPath({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    description: [spec.description, `**Who may call:** ${guard.describe(spec.access)}`].filter(Boolean).join('\n\n'),
    tags: spec.tags,
    ...(isPublic ? { security: [] } : { security: [{ [BEARER_SCHEME]: [] }] }),
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { required: bodyRequired, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses: {
      // Every route that takes input answers 400 for bad input, whether or not it says so itself.
      ...(spec.params || spec.query || spec.body ? { 400: problemResponse('A bad path parameter, query parameter or body field (each named in errors)') } : {}),
      ...spec.responses,
      ...(spec.body
        ? {
            413: spec.responses[413] ?? problemResponse('Body larger than the limit (BODY_LIMIT, 16 kB by default)'),
            415: problemResponse('A body that is not application/json (or in an unsupported charset or encoding)'),
          }
        : {}),
      ...(isPublic
        ? {}
        : {
            401: problemResponse('No token, or a malformed, invalid, expired or revoked one (WWW-Authenticate: Bearer)'),
            403: problemResponse('A valid token whose role or person may not do this'),
          }),
      // Every route but the probes counts against its caller's quota (rate-limit.ts).
      ...(quota ? { 429: problemResponse(quota) } : {}),
    },
  });
  const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
  const handler: RequestHandler = async (req, res) => {
    // Who first: an anonymous caller learns nothing from validation messages.
    const caller = await guard.authenticate(req, spec.access);
    const params = spec.params ? parseOrThrow(spec.params, req.params, 'path') : {};
    authorize(caller, spec.access, params);
    const query = spec.query ? parseOrThrow(spec.query, req.query, 'query') : {};
    // express.json() parses JSON bodies only: anything else sent with a body is the wrong media type.
    if (spec.body && req.is('json') === false && Number(req.headers['content-length'] ?? 1) > 0) {
      throw unsupportedMediaType(`Send the body as application/json (got ${req.headers['content-type'] ?? 'no Content-Type'})`);
    }
    const body = spec.body ? parseOrThrow(spec.body, req.body, 'body') : undefined;
    await spec.handler({ params, query, body, principal: caller, req, res } as Parameters<typeof spec.handler>[0]);
  };
  router[spec.method](expressPath, handler);
}
