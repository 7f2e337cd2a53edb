/**
 * The services `npm start` runs, each as its own process, and how to tell they are up.
 * New services join the list in allServices as they land.
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

/**
 * Every service with `npm start`'s ports and addresses. `portOffset` moves all of them (and the
 * addresses the services use to reach each other) by the same amount, for tests.
 */
function allServices(portOffset: number): ServiceSpec[] {
  const port = (p: number) => p + portOffset;
  const apiUrl = `${tlsDir ? 'https' : 'http'}://localhost:${port(30001)}`;
  // The defaults the services have built in are npm start's ports; only a moved set needs telling.
  const moved = portOffset !== 0;
  return [
    {
      name: 'frontend',
      entry: 'modules/frontend/server/main.ts',
      port: port(30000),
      url: `http://localhost:${port(30000)}/`,
      env: {
        METRICS_PORT: String(port(30010)),
        ...(tlsDir || moved ? { PERSON_API_URL: apiUrl } : {}),
        ...(tlsDir ? { PERSON_API_CA_FILE: join(tlsDir, 'ca.crt') } : {}),
      },
    },
    {
      name: 'person-api',
      entry: 'modules/person-api/src/main.ts',
      port: port(30001),
      url: `${apiUrl}/`,
      env: {
        ...serverTls,
        METRICS_PORT: String(port(30011)),
        ...(moved ? { CONNECTION_SERVICE_ADDRESS: `localhost:${port(30003)}`, CORS_ORIGINS: `http://localhost:${port(30000)}` } : {}),
      },
      database: 'person-api',
      signsTokens: true,
    },
    {
      name: 'location-ingest',
      entry: 'modules/location-ingest/src/main.ts',
      port: port(30002),
      url: tlsDir ? `localhost:${port(30002)} (gRPC over TLS)` : `grpc://localhost:${port(30002)}`,
      env: { ...serverTls, METRICS_PORT: String(port(30012)) },
      database: 'location-ingest',
    },
    {
      name: 'connection-service',
      entry: 'modules/connection-service/src/main.ts',
      port: port(30003),
      url: `grpc://localhost:${port(30003)} (internal); devices' Meetings on ${tlsDir ? `localhost:${port(30005)} (gRPC over TLS)` : `grpc://localhost:${port(30005)}`}`,
      // The devices' port (Meetings only) is 30005, TLS with --tls like ingest's.
      env: { ...serverTls, MEETINGS_PORT: String(port(30005)), METRICS_PORT: String(port(30013)) },
      database: 'connection-service',
    },
    {
      name: 'location-writer',
      entry: 'modules/location-writer/src/main.ts',
      port: port(30004),
      // The demo seed's pings are from 2020: kept unless the caller sets RETENTION_DAYS (README, "Retention").
      env: { RETENTION_DAYS: process.env.RETENTION_DAYS || '0' },
      url: `http://localhost:${port(30004)}/metrics`,
      database: 'location-writer',
    },
  ];
}

/**
 * The services to run. `npm start` sets neither variable: every service on ports 30000–30004.
 * Tests set UDACONNECT_PORT_OFFSET (an integer added to every port) and UDACONNECT_SERVICES
 * (comma-separated names: run only these), so they need no free 30000–30004 and no page build.
 */
export function selectServices(env: NodeJS.ProcessEnv = process.env): ServiceSpec[] {
  const rawOffset = env.UDACONNECT_PORT_OFFSET?.trim() || '0';
  const offset = Number(rawOffset);
  if (!/^-?\d+$/.test(rawOffset) || 30000 + offset < 1 || 30013 + offset > 65535) {
    throw new Error(`UDACONNECT_PORT_OFFSET must be an integer that keeps ports 30000–30013 within 1–65535, got "${env.UDACONNECT_PORT_OFFSET}"`);
  }
  const all = allServices(offset);
  const names = env.UDACONNECT_SERVICES?.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (!names?.length) return all;
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) throw new Error(`UDACONNECT_SERVICES: unknown service ${unknown.join(', ')} (known: ${all.map((s) => s.name).join(', ')})`);
  return all.filter((s) => names.includes(s.name));
}

const RESTART_INITIAL_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_AFTER_MS = 60_000;

/**
 * When the runner starts a service again after it exited, as Kubernetes does (CrashLoopBackOff):
 * 1 s, then doubled for each restart in a row, at most 30 s; a run that lasted a minute or more
 * starts the count over. `consecutive` is the number of restarts in a row before this one.
 */
export function nextRestart(consecutive: number, ranForMs: number): { delayMs: number; consecutive: number } {
  const n = ranForMs >= RESTART_RESET_AFTER_MS ? 1 : consecutive + 1;
  return { delayMs: Math.min(RESTART_INITIAL_MS * 2 ** (n - 1), RESTART_MAX_MS), consecutive: n };
}

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
