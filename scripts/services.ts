/**
 * The services `npm start` runs, each as its own process, and how to tell they are up.
 * New services join this list as they land.
 */
import { join } from 'node:path';
import { SERVICE_ROLES, serviceRole, type ServiceName } from '../db/roles';

/**
 * `npm start -- --tls`: the folder scripts/tls-certs.sh wrote the local CA and the server
 * certificate to (start.sh sets it). person-api and location-ingest then serve TLS, and the
 * frontend server proxies to https://localhost:30001 trusting that CA.
 */
export const tlsDir = process.env.UDACONNECT_TLS_DIR || undefined;
const serverTls: Record<string, string> = tlsDir ? { TLS_CERT_FILE: join(tlsDir, 'server.crt'), TLS_KEY_FILE: join(tlsDir, 'server.key') } : {};

export interface ServiceSpec {
  name: string;
  entry: string;
  /** Port whose answer means "started"; also printed as the URL for HTTP services. */
  port: number;
  url?: string;
  env?: Record<string, string>;
  /** Connects to PostgreSQL as this service's own role (db/roles.ts); see serviceEnv. */
  database?: ServiceName;
  /** Gets the private token signing key (person-api only; the others verify with the public set). */
  signsTokens?: boolean;
}

export const services: ServiceSpec[] = [
  {
    name: 'frontend',
    entry: 'modules/frontend/server/main.ts',
    port: 30000,
    url: 'http://localhost:30000/',
    env: tlsDir ? { PERSON_API_URL: 'https://localhost:30001', PERSON_API_CA_FILE: join(tlsDir, 'ca.crt') } : {},
  },
  { name: 'person-api', entry: 'modules/person-api/src/main.ts', port: 30001, url: `${tlsDir ? 'https' : 'http'}://localhost:30001/`, env: serverTls, database: 'person-api', signsTokens: true },
  { name: 'location-ingest', entry: 'modules/location-ingest/src/main.ts', port: 30002, url: tlsDir ? 'localhost:30002 (gRPC over TLS)' : 'grpc://localhost:30002', env: serverTls, database: 'location-ingest' },
  { name: 'connection-service', entry: 'modules/connection-service/src/main.ts', port: 30003, url: 'grpc://localhost:30003 (internal)', database: 'connection-service' },
  { name: 'location-writer', entry: 'modules/location-writer/src/main.ts', port: 30004, url: 'http://localhost:30004/metrics', database: 'location-writer' },
];

/**
 * The environment a service starts with: the runner's without any database URL or password, its
 * port, and its own role's URL as DATABASE_URL (<PREFIX>_DATABASE_URL from .udaconnect/env, or
 * DATABASE_URL itself when that is not set). No service sees the schema owner's URL or another's.
 */
export function serviceEnv(svc: ServiceSpec, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, PORT: String(svc.port), ...svc.env };
  const databaseUrl = svc.database ? env[serviceRole(svc.database).urlEnv] || env.DATABASE_URL : undefined;
  delete out.DATABASE_URL;
  for (const r of SERVICE_ROLES) {
    delete out[r.urlEnv];
    delete out[r.passwordEnv];
  }
  if (databaseUrl) out.DATABASE_URL = databaseUrl;
  if (!svc.signsTokens) delete out.AUTH_SIGNING_KEY_FILE;
  return out;
}
