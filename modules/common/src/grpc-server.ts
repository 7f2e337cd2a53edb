/**
 * gRPC server bootstrap shared by every gRPC service: the standard grpc.health.v1 service
 * (for grpcurl and Kubernetes `grpc:` probes), server reflection from the descriptor sets
 * buf builds from protos/, and a shutdown that lets in-flight calls and streams finish.
 * With `tls` the port speaks TLS only; `healthPort` adds a plaintext port that serves nothing
 * but grpc.health.v1.Health (same statuses), for Kubernetes `grpc:` probes, which cannot do TLS.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { descriptorSetFiles } from '@udaconnect/proto';
import { addReflection } from './grpc-reflection';
import type { Logger } from './logger';
import { grpcMetrics } from './metrics';
import type { Registry } from 'prom-client';
import type { ServerTls } from './tls';
import { traceGrpcService } from './tracing';

const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

export interface GrpcServiceRegistration {
  /**
   * Fully qualified name, e.g. udaconnect.location.v1.LocationIngest: its health status,
   * and what reflection lists and describes (from @udaconnect/proto's descriptor sets).
   */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface GrpcServerHandle {
  server: grpc.Server;
  port: number;
  /** The plaintext health-only port, when `healthPort` was given. */
  healthPort?: number;
  /** Sets the health of the whole server and of each registered service. */
  setServing(serving: boolean): void;
  /**
   * Health follows a dependency: `check` every `intervalMs` (never two at once), SERVING while it
   * answers true, NOT_SERVING otherwise; stops at shutdown.
   */
  followHealth(check: () => Promise<boolean>, intervalMs: number): void;
  /** NOT_SERVING, wait for in-flight calls up to `graceMs`, then cancel what is left. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * A unary handler from an async function. grpc-js ignores what a handler returns, so a rejection
 * (a bug: handlers answer their expected failures themselves) would go unhandled and end the
 * process; it is logged instead, and the call answered INTERNAL unless it was already answered.
 */
export function unaryHandler<Req, Res>(
  logger: Logger,
  handler: (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => Promise<void>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let answered = false;
    const answer: grpc.sendUnaryData<Res> = (...args) => {
      answered = true;
      callback(...args);
    };
    handler(call, answer).catch((err: unknown) => {
      logger.error({ err }, 'gRPC handler failed');
      if (!answered) callback({ code: grpc.status.INTERNAL, details: 'internal error' });
    });
  };
}

export async function startGrpcServer(opts: {
  port: number;
  host?: string;
  services: GrpcServiceRegistration[];
  logger: Logger;
  serving?: boolean;
  /** Serve TLS with this certificate and key (no client certificates); plaintext without. */
  tls?: ServerTls;
  /** Also serve grpc.health.v1.Health alone, in plaintext, on this port (0 = any free port). */
  healthPort?: number;
  /** Count and time every call here (grpc_server_handled_total, grpc_server_handling_seconds). */
  metrics?: Registry;
}): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    interceptors: opts.metrics ? [grpcMetrics(opts.metrics)] : [],
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  // Each call of our own services is a span (tracing.ts); health checks and reflection are not.
  for (const s of opts.services) server.addService(s.definition, traceGrpcService(s.definition, s.implementation));

  const status = (serving: boolean) => (serving ? 'SERVING' : 'NOT_SERVING');
  const initial = opts.serving ?? true;
  const health = new HealthImplementation(Object.fromEntries(['', ...opts.services.map((s) => s.name)].map((name) => [name, status(initial)] as const)));
  health.addToServer(server);

  addReflection(server, {
    services: [...opts.services.map((s) => s.name), HEALTH_SERVICE_NAME],
    descriptorSets: Object.values(descriptorSetFiles).map((file) => fs.readFileSync(file)),
  });

  const bind = (target: grpc.Server, port: number, credentials: grpc.ServerCredentials) =>
    new Promise<number>((resolve, reject) =>
      target.bindAsync(`${opts.host ?? '0.0.0.0'}:${port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  const credentials = opts.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await bind(server, opts.port, credentials);

  // Health only: no application service, no reflection. Shares `health`, so statuses (and Watch) agree.
  let healthServer: grpc.Server | undefined;
  let healthPort: number | undefined;
  if (opts.healthPort !== undefined) {
    healthServer = new grpc.Server();
    health.addToServer(healthServer);
    try {
      healthPort = await bind(healthServer, opts.healthPort, grpc.ServerCredentials.createInsecure());
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
  }

  let lastServing = initial;
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const handle: GrpcServerHandle = {
    server,
    port,
    ...(healthPort !== undefined ? { healthPort } : {}),
    setServing(serving) {
      if (serving === lastServing) return;
      lastServing = serving;
      health.setStatus('', status(serving));
      for (const s of opts.services) health.setStatus(s.name, status(serving));
      opts.logger.info({ serving }, serving ? 'gRPC health: SERVING' : 'gRPC health: NOT_SERVING');
    },
    followHealth(check, intervalMs) {
      let checking = false;
      const timer = setInterval(() => {
        if (checking) return;
        checking = true;
        void check()
          .catch(() => false)
          .then((ok) => !stopping && handle.setServing(ok))
          .finally(() => (checking = false));
      }, intervalMs);
      timer.unref();
      timers.push(timer);
    },
    async shutdown(graceMs = 15_000) {
      stopping = true;
      timers.forEach(clearInterval);
      handle.setServing(false);
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          opts.logger.warn({ graceMs }, 'in-flight gRPC calls did not finish in time; cancelling them');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      // Probes see NOT_SERVING until the main port has drained; open Watch streams are then cut.
      const probes = healthServer;
      if (probes) {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => (probes.forceShutdown(), resolve()), 1_000);
          probes.tryShutdown(() => (clearTimeout(force), resolve()));
        });
      }
    },
  };
  return handle;
}
