/**
 * Declares each REST route once: its zod schemas validate the request and document it in
 * OpenAPI, so the docs cannot drift from what the code accepts.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { parseOrThrow } from '@udaconnect/common';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType> {
  method: Method;
  /** OpenAPI-style path, e.g. /api/persons/{id}. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseConfig>;
  handler: (input: { params: z.infer<P>; query: z.infer<Q>; body: z.infer<B>; req: Request; res: Response }) => Promise<void> | void;
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

export function addRoute<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType>(
  router: Router,
  registry: OpenAPIRegistry,
  spec: RouteSpec<P, Q, B>,
): void {
  registry.registerPath({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    description: spec.description,
    tags: spec.tags,
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses: spec.responses,
  });
  const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
  const handler: RequestHandler = async (req, res) => {
    const params = spec.params ? parseOrThrow(spec.params, req.params, 'path') : {};
    const query = spec.query ? parseOrThrow(spec.query, req.query, 'query') : {};
    const body = spec.body ? parseOrThrow(spec.body, req.body, 'body') : undefined;
    await spec.handler({ params, query, body, req, res } as Parameters<typeof spec.handler>[0]);
  };
  router[spec.method](expressPath, handler);
}
