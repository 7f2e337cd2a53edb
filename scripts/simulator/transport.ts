/**
 * How the simulator reaches the services: plaintext (the local default), or with `--tls` over
 * TLS to both location-ingest (gRPC) and person-api (https), trusting the CA in `--ca`
 * (default: the local CA `npm start -- --tls` makes, .udaconnect/tls/ca.crt).
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Agent, setGlobalDispatcher } from 'undici';

const DEFAULT_CA_FILE = join(__dirname, '..', '..', '.udaconnect', 'tls', 'ca.crt');
const DEFAULT_API = 'http://localhost:30001';
const DEFAULT_TLS_API = 'https://localhost:30001';

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface Transport {
  /** person-api base URL (https:// with TLS). */
  api: string;
  /** For location-ingest: TLS trusting the CA, or insecure. */
  credentials: grpc.ChannelCredentials;
  /** The trusted CA, with TLS. */
  ca?: Buffer;
  caFile?: string;
}

/**
 * Resolves `--tls` / `--ca` / `--api` into the gRPC credentials and the API URL. `--ca` implies
 * `--tls`; with TLS the API must be https (a plaintext API would send the device's token in clear).
 */
export function resolveTransport(opts: { tls?: boolean; ca?: string; api?: string }): Transport {
  const tls = Boolean(opts.tls || opts.ca);
  if (!tls) return { api: opts.api ?? DEFAULT_API, credentials: grpc.credentials.createInsecure() };
  const api = opts.api ?? DEFAULT_TLS_API;
  if (!api.startsWith('https://')) throw new TransportError(`--api must be an https:// URL with --tls (got ${api})`);
  const caFile = opts.ca ?? DEFAULT_CA_FILE;
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    const hint = opts.ca ? '' : ' — start the services with `npm start -- --tls` (it creates the local CA), or name one with --ca FILE';
    throw new TransportError(
      `cannot read the CA certificate ${relative(process.cwd(), caFile) || caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})${hint}`,
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new TransportError(`${caFile} holds no PEM certificate`);
  return { api, credentials: grpc.credentials.createSsl(ca), ca, caFile };
}

/** Makes this process's fetch() trust `ca`, and only it, for https. */
export function trustForFetch(ca: Buffer): void {
  setGlobalDispatcher(new Agent({ connect: { ca } }));
}
