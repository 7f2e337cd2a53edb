/**
 * The writer's only HTTP surface, for Kubernetes and Prometheus: /healthz, /readyz, /metrics.
 * Plain node:http — three fixed GET routes do not need a framework.
 */
import http from 'node:http';
import { checkReadiness, HttpProblem, notFound, problemBody, serviceUnavailable, type Logger, type ReadinessChecks } from '@udaconnect/common';
import { METRICS_CONTENT_TYPE, type WriterMetrics } from './metrics';

function sendJson(res: http.ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': `${contentType}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendProblem(res: http.ServerResponse, problem: HttpProblem, instance: string, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, problem.status, problemBody(problem, instance), 'application/problem+json');
}

export function createHealthServer(opts: { checks: ReadinessChecks; metrics: WriterMetrics; logger: Logger }): http.Server {
  const { checks, metrics, logger } = opts;

  const readiness = () => checkReadiness(checks);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const routes = ['/healthz', '/readyz', '/metrics'];
    if (!routes.includes(path)) return sendProblem(res, notFound(`No route for ${req.method} ${path}`), path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendProblem(res, new HttpProblem(405, 'Method Not Allowed', `${path} answers GET only`), path, { allow: 'GET, HEAD' });
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
      return void res.end(metrics.render());
    }
    const state = await readiness();
    const down = Object.keys(state).filter((n) => !state[n]);
    if (down.length === 0) return sendJson(res, 200, { status: 'ready', checks: state });
    sendProblem(res, serviceUnavailable(`Not ready: ${down.join(', ')}`), path, { 'retry-after': '5' });
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      logger.error({ err, url: req.url }, 'health server error');
      if (!res.headersSent) sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'An unexpected error occurred'), req.url ?? '/');
      else res.destroy();
    });
  });
}
