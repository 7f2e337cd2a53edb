import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { Logger } from './logger';
import { isDatabaseUnavailable } from './db';
import { AuthError, AuthUnavailableError, ForbiddenError } from './auth';

/** One bad field of a request, as listed in a problem's `errors`. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem; thrown by handlers, rendered by problemHandler. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    /** Response headers the problem needs, e.g. Allow on a 405. */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
    this.name = 'HttpProblem';
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new HttpProblem(400, 'Bad Request', detail, errors);
export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);
export const serviceUnavailable = (detail: string) => new HttpProblem(503, 'Service Unavailable', detail);
/** RFC 9110 §15.5.6: the path exists, the method does not; `allowed` goes in the Allow header. */
export const methodNotAllowed = (method: string, path: string, allowed: string[]) =>
  new HttpProblem(405, 'Method Not Allowed', `${path} does not answer ${method}; it answers ${allowed.join(', ')}`, undefined, { Allow: allowed.join(', ') });
export const unsupportedMediaType = (detail: string) => new HttpProblem(415, 'Unsupported Media Type', detail, [{ field: 'body', message: detail }]);

/** Turns a zod error into field errors; `location` prefixes the field (e.g. "query"). */
export function fieldErrors(error: z.ZodError, location?: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    // Unknown keys are reported by zod on the parent object: name the keys themselves.
    if (issue.code === 'unrecognized_keys') {
      return { field: [...path, issue.keys.join(', ')].filter(Boolean).join('.'), message: `unknown field(s): ${issue.keys.join(', ')}` };
    }
    const field = path.join('.') || location || 'body';
    return { field, message: issue.message };
  });
}

/** Parses `value` with `schema` or throws a 400 problem naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, location: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error, location);
  throw badRequest(`Invalid ${location}: ${errors.map((e) => `${e.field} (${e.message})`).join('; ')}`, errors);
}

/** The RFC 9457 body of a problem, the one shape every HTTP server of ours answers errors with. */
export function problemBody(problem: HttpProblem, instance?: string) {
  return {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail ?? problem.title,
    ...(instance ? { instance } : {}),
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
}

export function sendProblem(res: Response, problem: HttpProblem, instance?: string): void {
  for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
  res.status(problem.status).type('application/problem+json').json(problemBody(problem, instance));
}

/** Named dependency checks for a readiness probe; each resolves (or returns) true when that part answers. */
export type ReadinessChecks = Record<string, () => Promise<boolean> | boolean>;

/** Runs every check at once; a check that throws counts as down. */
export async function checkReadiness(checks: ReadinessChecks): Promise<Record<string, boolean>> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map(async (n) => Boolean(await Promise.resolve(checks[n]!()).catch(() => false))));
  return Object.fromEntries(names.map((n, i) => [n, results[i]!]));
}

/** The route a request matched, as its template (`/api/persons/:id`); undefined when none matched. */
export function routeTemplate(req: Request): string | undefined {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl}${route}` : undefined;
}

export const notFoundRoute: RequestHandler = (req, res) => {
  sendProblem(res, notFound(`No route for ${req.method} ${req.path}`), req.originalUrl);
};

/** What body-parser's errors (http-errors) carry; anything can be thrown, so each field is checked. */
type HttpErrorFields = { status?: unknown; statusCode?: unknown; type?: unknown; limit?: unknown; message?: unknown };

/**
 * Last express middleware: every error becomes problem+json. Errors from body parsing
 * (malformed JSON, body too large) keep their 4xx status; a database outage is a 503;
 * anything else is logged and is a 500 without internals.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    const instance = req.originalUrl;
    if (err instanceof HttpProblem) return sendProblem(res, err, instance);
    if (err instanceof AuthError) {
      // RFC 6750 §3: the scheme always; error="invalid_token" once a token was sent.
      const challenge =
        err.failure === 'missing' ? 'Bearer realm="udaconnect"' : `Bearer realm="udaconnect", error="invalid_token", error_description="${err.message}"`;
      res.setHeader('WWW-Authenticate', challenge);
      return sendProblem(res, new HttpProblem(401, 'Unauthorized', err.message), instance);
    }
    if (err instanceof ForbiddenError) return sendProblem(res, new HttpProblem(403, 'Forbidden', err.message), instance);
    if (err instanceof AuthUnavailableError) {
      res.setHeader('Retry-After', '2');
      return sendProblem(res, serviceUnavailable(err.message), instance);
    }
    const e: HttpErrorFields = typeof err === 'object' && err !== null ? err : {};
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (status >= 400 && status < 500) {
      const detail =
        e.type === 'entity.parse.failed'
          ? 'Request body is not valid JSON'
          : e.type === 'entity.too.large'
            ? `Request body is larger than the limit of ${String(e.limit)} bytes`
            : e.type === 'encoding.unsupported' || e.type === 'charset.unsupported'
              ? String(e.message)
              : typeof e.message === 'string'
                ? e.message
                : 'Bad request';
      const title = status === 413 ? 'Content Too Large' : status === 415 ? 'Unsupported Media Type' : 'Bad Request';
      return sendProblem(res, new HttpProblem(status, title, detail, [{ field: 'body', message: detail }]), instance);
    }
    if (isDatabaseUnavailable(err)) {
      logger.warn({ err: (err as Error).message, path: req.path }, 'database unavailable');
      res.setHeader('Retry-After', '5');
      return sendProblem(res, serviceUnavailable('The database is unavailable; try again shortly'), instance);
    }
    logger.error({ err, path: req.path }, 'unhandled error');
    return sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'An unexpected error occurred'), instance);
  };
}
