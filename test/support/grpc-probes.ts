/** What grpcurl and Kubernetes ask a gRPC server: its health, and the services reflection lists. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join, dirname } from 'node:path';
import { service as healthService } from 'grpc-health-check';

export async function healthStatus(port: number, serviceName = ''): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      (client as unknown as { check: (req: object, cb: (e: Error | null, r: { status: string }) => void) => void }).check(
        { service: serviceName },
        (err, res) => (err ? reject(err) : resolve(String(res.status))),
      ),
    );
  } finally {
    client.close();
  }
}

export async function reflectedServices(port: number): Promise<string[]> {
  const protoPath = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { keepCase: true })) as any;
  const client = new def.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (res: any) => {
        resolve(res.list_services_response.service.map((s: { name: string }) => s.name).sort());
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
  } finally {
    client.close();
  }
}
