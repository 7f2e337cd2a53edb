/** What grpcurl and Kubernetes ask a gRPC server: its health, and the services reflection lists. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join, dirname } from 'node:path';
import { service as healthService } from 'grpc-health-check';

/** `credentials`: plaintext by default; grpc.credentials.createSsl(ca) for a TLS port. */
export async function healthStatus(port: number, serviceName = '', credentials = grpc.credentials.createInsecure()): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, credentials);
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

type ReflectionVersion = 'v1' | 'v1alpha';

/** Asks the server reflection service (as grpcurl does, on one stream) and returns its answers, in order. */
export async function reflect(
  port: number,
  requests: object[],
  version: ReflectionVersion = 'v1',
  credentials = grpc.credentials.createInsecure(),
): Promise<any[]> {
  const protoRoot = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
  const def = grpc.loadPackageDefinition(
    protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [protoRoot], keepCase: true, oneofs: true }),
  ) as any;
  const client = new def.grpc.reflection[version].ServerReflection(`127.0.0.1:${port}`, credentials);
  try {
    return await new Promise((resolve, reject) => {
      const answers: any[] = [];
      const call = client.ServerReflectionInfo();
      call.on('data', (res: any) => answers.push(res));
      call.on('end', () => resolve(answers));
      call.on('error', reject);
      for (const r of requests) call.write(r);
      call.end();
    });
  } finally {
    client.close();
  }
}

export async function reflectedServices(port: number, version: ReflectionVersion = 'v1', credentials = grpc.credentials.createInsecure()): Promise<string[]> {
  const [res] = await reflect(port, [{ list_services: '' }], version, credentials);
  return res.list_services_response.service.map((s: { name: string }) => s.name).sort();
}
