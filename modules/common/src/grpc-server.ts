/**
 * gRPC server bootstrap shared by every gRPC service: the standard grpc.health.v1 service
 * (for grpcurl and Kubernetes `grpc:` probes), server reflection from the descriptor sets
 * buf builds from protos/, and a shutdown that lets in-flight calls and streams finish.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { descriptorSetFiles } from '@udaconnect/proto';
import { addReflection } from './grpc-reflection';
import type { Logger } from './logger';

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
  /** Sets the health of the whole server and of each registered service. */
  setServing(serving: boolean): void;
  /** NOT_SERVING, wait for in-flight calls up to `graceMs`, then cancel what is left. */
  shutdown(graceMs?: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  port: number;
  host?: string;
  services: GrpcServiceRegistration[];
  logger: Logger;
  serving?: boolean;
}): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  for (const s of opts.services) server.addService(s.definition, s.implementation);

  const status = (serving: boolean) => (serving ? 'SERVING' : 'NOT_SERVING');
  const initial = opts.serving ?? true;
  const health = new HealthImplementation(Object.fromEntries([['', status(initial)], ...opts.services.map((s) => [s.name, status(initial)])]));
  health.addToServer(server);

  addReflection(server, {
    services: [...opts.services.map((s) => s.name), HEALTH_SERVICE_NAME],
    descriptorSets: Object.values(descriptorSetFiles).map((file) => fs.readFileSync(file)),
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host ?? '0.0.0.0'}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );

  let lastServing = initial;
  const handle: GrpcServerHandle = {
    server,
    port,
    setServing(serving) {
      if (serving === lastServing) return;
      lastServing = serving;
      health.setStatus('', status(serving));
      for (const s of opts.services) health.setStatus(s.name, status(serving));
      opts.logger.info({ serving }, serving ? 'gRPC health: SERVING' : 'gRPC health: NOT_SERVING');
    },
    async shutdown(graceMs = 15_000) {
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
    },
  };
  return handle;
}
