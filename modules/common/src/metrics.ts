/**
 * Prometheus metrics (prom-client) for every service. Each service owns a Registry (never
 * prom-client's global one, so tests can run several services in one process), labelled with the
 * service name and carrying the process metrics (CPU, memory, event-loop lag, GC). The operator
 * server publishes it at /metrics, next to /healthz and /readyz, on its own port: never the public
 * one (docs/decisions.md, "Metrics on an operator port").
 */
import http from 'node:http';
import type { ServerInterceptor } from '@grpc/grpc-js';
import { ServerInterceptingCall, status as grpcStatus } from '@grpc/grpc-js';
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { checkReadiness, HttpProblem, notFound, problemBody, routeTemplate, serviceUnavailable, type ReadinessChecks } from './http';
import type { Logger } from './logger';
import { closeHttpServer, listen } from './shutdown';

/** Latency buckets (seconds) shared by request, query and produce histograms: 1 ms … 10 s. */
/** A service's metrics registry (prom-client's Registry), for code that only passes it along. */
export type MetricsRegistry = Registry;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A metric of this registry, made once: asking twice (two apps in one registry) gives the same one. */
function once<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/** A counter with labels in this registry (made once), for services that count a few outcomes of their own. */
export function labelledCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return once(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

/** Express middleware: `http_requests_total` and `http_request_duration_seconds` by method, route and status. */
export function httpMetrics(registry: Registry): RequestHandler {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = once(
    registry,
    'http_requests_total',
    () => new Counter({ name: 'http_requests_total', help: 'HTTP requests answered.', labelNames, registers: [registry] }),
  );
  const seconds = once(
    registry,
    'http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Time from request to the last byte of the answer.',
        labelNames,
        buckets: SECONDS_BUCKETS,
        registers: [registry],
      }),
  );
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      // The template keeps labels few; a request no route matched is its mount point or `unmatched`.
      const labels = { method: req.method, route: routeTemplate(req) ?? (req.baseUrl || 'unmatched'), status: String(res.statusCode) };
      requests.inc(labels);
      seconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** A gRPC server interceptor: `grpc_server_handled_total` and `grpc_server_handling_seconds` by method and status code. */
export function grpcMetrics(registry: Registry): ServerInterceptor {
  const labelNames = ['method', 'code'] as const;
  const handled = once(
    registry,
    'grpc_server_handled_total',
    () => new Counter({ name: 'grpc_server_handled_total', help: 'gRPC calls finished, by status code.', labelNames, registers: [registry] }),
  );
  const seconds = once(
    registry,
    'grpc_server_handling_seconds',
    () =>
      new Histogram({
        name: 'grpc_server_handling_seconds',
        help: 'Time from a call’s start to its status (a stream: its whole life).',
        labelNames,
        buckets: SECONDS_BUCKETS,
        registers: [registry],
      }),
  );
  return (methodDescriptor, call) => {
    const started = process.hrtime.bigint();
    return new ServerInterceptingCall(call, {
      sendStatus(status, next) {
        const labels = { method: methodDescriptor.path, code: grpcStatus[status.code] ?? String(status.code) };
        handled.inc(labels);
        seconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
        next(status);
      },
    });
  };
}

/**
 * A knex instance's pool and queries: `db_pool_connections{state}` (used, free, pending acquires)
 * read at scrape time, and `db_query_duration_seconds{outcome}` from knex's query events.
 */
export function databaseMetrics(registry: Registry, knex: Knex): void {
  type Pool = { numUsed(): number; numFree(): number; numPendingAcquires(): number };
  const pool = () => (knex.client as { pool?: Pool }).pool;
  once(
    registry,
    'db_pool_connections',
    () =>
      new Gauge({
        name: 'db_pool_connections',
        help: 'Database pool connections: used, free, and acquires waiting for one.',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          const p = pool();
          this.set({ state: 'used' }, p?.numUsed() ?? 0);
          this.set({ state: 'free' }, p?.numFree() ?? 0);
          this.set({ state: 'pending' }, p?.numPendingAcquires() ?? 0);
        },
      }),
  );
  const seconds = once(
    registry,
    'db_query_duration_seconds',
    () =>
      new Histogram({
        name: 'db_query_duration_seconds',
        help: 'Time of each SQL statement, by outcome.',
        labelNames: ['outcome'] as const,
        buckets: SECONDS_BUCKETS,
        registers: [registry],
      }),
  );
  const startedAt = new Map<string, bigint>();
  const finish = (outcome: 'ok' | 'error') => (_: unknown, query: { __knexQueryUid?: string }) => {
    const uid = query.__knexQueryUid;
    const started = uid === undefined ? undefined : startedAt.get(uid);
    if (uid === undefined || started === undefined) return;
    startedAt.delete(uid);
    seconds.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
  };
  knex.on('query', (query: { __knexQueryUid?: string }) => {
    if (query.__knexQueryUid !== undefined) startedAt.set(query.__knexQueryUid, process.hrtime.bigint());
  });
  knex.on('query-response', finish('ok'));
  knex.on('query-error', finish('error'));
}

/**
 * The operator port of a service: GET /metrics (Prometheus text), /healthz (the process answers)
 * and, with `readiness`, /readyz (503 naming what is down). Plain node:http: three fixed routes.
 */
export function createOperatorServer(opts: { registry: Registry; readiness?: ReadinessChecks; logger: Logger }): http.Server {
  const send = (res: http.ServerResponse, statusCode: number, body: string, contentType: string, headers: Record<string, string> = {}) => {
    res.writeHead(statusCode, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
    res.end(body);
  };
  const sendProblem = (res: http.ServerResponse, problem: HttpProblem, instance: string, headers: Record<string, string> = {}) =>
    send(res, problem.status, JSON.stringify(problemBody(problem, instance)), 'application/problem+json; charset=utf-8', headers);
  const routes = ['/metrics', '/healthz', ...(opts.readiness ? ['/readyz'] : [])];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!routes.includes(path)) return sendProblem(res, notFound(`No route for ${req.method} ${path}`), path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendProblem(res, new HttpProblem(405, 'Method Not Allowed', `${path} answers GET only`), path, { allow: 'GET, HEAD' });
    }
    if (path === '/metrics') return send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
    if (path === '/healthz') return send(res, 200, JSON.stringify({ status: 'ok' }), 'application/json; charset=utf-8');
    const state = await checkReadiness(opts.readiness!);
    const down = Object.keys(state).filter((n) => !state[n]);
    if (down.length === 0) return send(res, 200, JSON.stringify({ status: 'ready', checks: state }), 'application/json; charset=utf-8');
    sendProblem(res, serviceUnavailable(`Not ready: ${down.join(', ')}`), path, { 'retry-after': '5' });
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.logger.error({ err, url: req.url }, 'operator server error');
      if (!res.headersSent) sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'An unexpected error occurred'), req.url ?? '/');
      else res.destroy();
    });
  });
}

export interface OperatorServer {
  port: number;
  close(): Promise<void>;
}

/** createOperatorServer, listening on METRICS_HOST:METRICS_PORT. */
export async function startOperatorServer(opts: {
  registry: Registry;
  port: number;
  host: string;
  logger: Logger;
  readiness?: ReadinessChecks;
}): Promise<OperatorServer> {
  const server = createOperatorServer(opts);
  const port = await listen(server, opts.port, opts.host);
  opts.logger.info({ port, host: opts.host }, `metrics on http://${opts.host}:${port}/metrics`);
  return { port, close: () => closeHttpServer(server) };
}
