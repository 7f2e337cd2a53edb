/**
 * startGrpcServer with `tls` and `healthPort`: the main port speaks TLS only; the health port is
 * plaintext, serves grpc.health.v1.Health alone and follows the same status.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger, loadServerTls, startGrpcServer, type GrpcServerHandle } from '../src';
import { healthStatus, reflectedServices } from '../../../test/support/grpc-probes';
import { makeCerts, tempDir, type CertSet } from '../../../test/tls/certs';

const logger = createLogger('grpc-tls-test', 'silent');
let tmp: ReturnType<typeof tempDir>;
let certs: CertSet;
let otherCa: CertSet;
let handle: GrpcServerHandle;

beforeAll(async () => {
  tmp = tempDir('grpc-tls');
  certs = makeCerts(join(tmp.path, 'a'));
  otherCa = makeCerts(join(tmp.path, 'b'));
  handle = await startGrpcServer({
    port: 0,
    host: '127.0.0.1',
    services: [],
    logger,
    tls: loadServerTls({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile })!,
    healthPort: 0,
  });
});

afterAll(async () => {
  await handle?.shutdown(1_000);
  tmp.remove();
});

const trusting = () => grpc.credentials.createSsl(certs.ca);

/** The gRPC status code of a failed call (or 'OK'). */
async function codeOf(call: Promise<unknown>): Promise<grpc.status | 'OK'> {
  return (await failureOf(call))?.code ?? 'OK';
}

async function failureOf(call: Promise<unknown>): Promise<grpc.ServiceError | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return err as grpc.ServiceError;
  }
}

describe('the TLS port', () => {
  it('answers health and reflection to a client that trusts the CA', async () => {
    expect(await healthStatus(handle.port, '', trusting())).toBe('SERVING');
    expect(await reflectedServices(handle.port, 'v1', trusting())).toEqual(
      expect.arrayContaining(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']),
    );
  });

  it('refuses a plaintext client (UNAVAILABLE: no TLS handshake)', async () => {
    expect(await codeOf(healthStatus(handle.port, '', grpc.credentials.createInsecure()))).toBe(grpc.status.UNAVAILABLE);
  });

  it('is refused by clients that do not trust its CA (system roots, or another CA)', async () => {
    for (const creds of [grpc.credentials.createSsl(), grpc.credentials.createSsl(otherCa.ca)]) {
      const err = await failureOf(healthStatus(handle.port, '', creds));
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
      // The certificate check failed, not the connection.
      expect(err?.details).toMatch(/unable to verify the first certificate/);
    }
  });
});

describe('the plaintext health port', () => {
  it('answers grpc.health.v1.Health in plaintext, and does not speak TLS', async () => {
    expect(handle.healthPort).toEqual(expect.any(Number));
    expect(handle.healthPort).not.toBe(handle.port);
    expect(await healthStatus(handle.healthPort!)).toBe('SERVING');
    expect(await codeOf(healthStatus(handle.healthPort!, '', trusting()))).toBe(grpc.status.UNAVAILABLE);
  });

  it('serves nothing but health: no reflection', async () => {
    expect(await codeOf(reflectedServices(handle.healthPort!))).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('shares the main port’s status', async () => {
    handle.setServing(false);
    expect(await healthStatus(handle.healthPort!)).toBe('NOT_SERVING');
    expect(await healthStatus(handle.port, '', trusting())).toBe('NOT_SERVING');
    handle.setServing(true);
    expect(await healthStatus(handle.healthPort!)).toBe('SERVING');
  });
});

describe('without healthPort', () => {
  it('opens no second port', async () => {
    const plain = await startGrpcServer({ port: 0, host: '127.0.0.1', services: [], logger });
    try {
      expect(plain.healthPort).toBeUndefined();
      expect(await healthStatus(plain.port)).toBe('SERVING');
    } finally {
      await plain.shutdown(1_000);
    }
  });
});

describe('shutdown', () => {
  it('closes both ports', async () => {
    const s = await startGrpcServer({
      port: 0,
      host: '127.0.0.1',
      services: [],
      logger,
      tls: loadServerTls({ TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile })!,
      healthPort: 0,
    });
    await s.shutdown(1_000);
    expect(await codeOf(healthStatus(s.healthPort!))).toBe(grpc.status.UNAVAILABLE);
    expect(await codeOf(healthStatus(s.port, '', trusting()))).toBe(grpc.status.UNAVAILABLE);
  });
});
