import { z } from 'zod';
import { checkReadiness, sendProblem, serviceUnavailable, type ReadinessChecks } from '@udaconnect/common';
import { access } from './http/access';
import { addRoute, jsonResponse, problemResponse, type RouteContext } from './http/typed-routes';

/**
 * `required` checks decide readiness (the database: without it nothing works). `degraded`
 * checks are reported but do not fail it: with Kafka or connection-service down only their
 * endpoints answer 503, and taking the whole API out of service would be worse.
 */
export function addHealthRoutes(ctx: RouteContext, required: ReadinessChecks, degraded: ReadinessChecks = {}): void {
  const checks = { ...required, ...degraded };
  const tags = ['Health'];
  addRoute(ctx, {
    method: 'get',
    path: '/health',
    summary: 'Liveness, as the old API answered it',
    tags,
    access: access.public,
    responses: { 200: jsonResponse('Always "healthy" while the process runs', z.literal('healthy')) },
    handler: ({ res }) => void res.json('healthy'),
  });
  addRoute(ctx, {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness probe',
    tags,
    access: access.public,
    responses: { 200: jsonResponse('The process is alive', z.object({ status: z.literal('ok') })) },
    handler: ({ res }) => void res.json({ status: 'ok' }),
  });
  addRoute(ctx, {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness probe: the database answers (Kafka and connection-service are reported, not required)',
    tags,
    access: access.public,
    responses: {
      200: jsonResponse('Ready', z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.boolean()) })),
      503: problemResponse('A dependency is unreachable'),
    },
    handler: async ({ req, res }) => {
      const state = await checkReadiness(checks);
      const down = Object.keys(required).filter((n) => !state[n]);
      if (down.length === 0) return void res.json({ status: 'ready', checks: state });
      sendProblem(res, serviceUnavailable(`Not ready: ${down.join(', ')} unreachable`), req.originalUrl);
    },
  });
}
