/**
 * Cross-checks between deployment/, the Dockerfile and the services' code: env vars against
 * the zod config schemas, ports, images, selectors, security settings, network policies, and
 * the Secrets (database roles, token keys, certificates): who gets which, where they are mounted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { dbCliConfigSchema } from '../../db/config';
import { frontendConfigSchema } from '../../modules/frontend/server/config';
import { SERVICE_ROLES } from '../../db/roles';
import {
  DEPLOYMENT_DIR,
  K8sObject,
  ROOT,
  byKind,
  isExecForm,
  loadManifests,
  parseDockerfile,
  parseEnvFile,
  parseYamlFile,
  podSpec,
  workloads,
} from './manifests';

// What db/cli.ts (the db-migrate Job) reads: the admin URL and the service roles' passwords.
const migrateConfigSchema = dbCliConfigSchema;

interface Expected {
  workload: string;
  kind: 'Deployment' | 'Job';
  schema: z.ZodObject;
  serviceType?: 'NodePort' | 'ClusterIP';
  protocol?: 'http' | 'grpc';
  /** The service's own hard-stop after SIGTERM (installShutdown's timeout), in ms. */
  shutdownMs: number;
}

const EXPECTED: Expected[] = [
  { workload: 'person-api', kind: 'Deployment', schema: personApiConfigSchema, serviceType: 'NodePort', protocol: 'http', shutdownMs: 20_000 },
  { workload: 'location-ingest', kind: 'Deployment', schema: ingestConfigSchema, serviceType: 'NodePort', protocol: 'grpc', shutdownMs: 15_000 + 10_000 },
  { workload: 'location-writer', kind: 'Deployment', schema: locationWriterConfigSchema, serviceType: 'ClusterIP', protocol: 'http', shutdownMs: 20_000 },
  {
    workload: 'connection-service',
    kind: 'Deployment',
    schema: connectionConfigSchema,
    serviceType: 'ClusterIP',
    protocol: 'grpc',
    shutdownMs: 15_000 + 10_000,
  },
  { workload: 'db-migrate', kind: 'Job', schema: migrateConfigSchema, shutdownMs: 0 },
];

/**
 * The frontend (modules/frontend/server/config.ts): its default port, and its hard stop (closing
 * cuts the requests still in flight after 5 s).
 */
const FRONTEND = { workload: 'frontend', defaultPort: 30000, shutdownMs: 5_000 };

const docs = loadManifests();
const configMaps = new Map(byKind(docs, 'ConfigMap').map((c) => [c.metadata.name, (c.data ?? {}) as Record<string, string>]));
const secretExample = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));
const SECRET_NAME = 'udaconnect-db';
const AUTH_SECRET = 'udaconnect-auth';
const TLS_SECRET = 'udaconnect-tls';
/** The keys of each generated Secret: secrets.env's (shape from the example) and the files' base names. */
const kustomization = parseYamlFile('kustomization.yaml')[0]!;
const generatorKeys = new Map<string, string[]>(
  (kustomization.secretGenerator as Array<{ name: string; envs?: string[]; files?: string[] }>).map((g) => [
    g.name,
    [...(g.envs ?? []).flatMap(() => Object.keys(secretExample)), ...(g.files ?? []).map((f) => path.basename(f.split('=').pop()!))],
  ]),
);
const dockerStages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const rootVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function required(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, s]) => !(s as z.ZodType).safeParse(undefined).success)
    .map(([k]) => k);
}

function defaultOf(schema: z.ZodObject, key: string): unknown {
  const s = schema.shape[key] as z.ZodType | undefined;
  return s?.parse(undefined);
}

type Container = any;

/** The container's environment as the pod sees it (values from ConfigMaps; Secret values from the example). */
function resolveEnv(container: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const src of container.envFrom ?? []) {
    if (src.configMapRef) Object.assign(out, configMaps.get(src.configMapRef.name) ?? fail(`no ConfigMap ${src.configMapRef.name}`));
    if (src.secretRef) {
      expect(src.secretRef.name).toBe(SECRET_NAME);
      Object.assign(out, secretExample);
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) out[e.name] = String(e.value);
    else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const data = configMaps.get(name);
      if (!data || !(key in data)) fail(`${container.name}: ${e.name} refers to missing ConfigMap key ${name}/${key}`);
      out[e.name] = data[key]!;
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      // Only the env-file Secret holds values an environment variable can take.
      if (name !== SECRET_NAME || !(key in secretExample)) fail(`${container.name}: ${e.name} refers to missing Secret key ${name}/${key}`);
      out[e.name] = secretExample[key]!;
    } else {
      fail(`${container.name}: ${e.name} has neither a value nor a ConfigMap/Secret key`);
    }
  }
  return out;
}

function fail(msg: string): never {
  throw new Error(msg);
}

function workload(name: string): K8sObject {
  const w = workloads(docs).find((d) => d.obj.metadata.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return w.obj;
}

function container(name: string): Container {
  return podSpec(workload(name)).containers[0];
}

function service(name: string): K8sObject {
  const s = byKind(docs, 'Service', name)[0];
  if (!s) throw new Error(`no Service ${name}`);
  return s;
}

/** A probe's or Service's port (number or container port name) as a number. */
function portNumber(c: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const p = (c.ports ?? []).find((x: { name?: string }) => x.name === port);
  if (!p) throw new Error(`${c.name}: no container port named ${port}`);
  return p.containerPort;
}

describe('workloads against the services’ config schemas', () => {
  it("connection-service's devices' port: MEETINGS_PORT, TLS on, behind a NodePort Service of its own on the same number", () => {
    const c = container('connection-service');
    const env = connectionConfigSchema.parse(resolveEnv(c));
    expect(env.MEETINGS_PORT).toBe(30005);
    // TLS only there: the config applies TLS_CERT_FILE/TLS_KEY_FILE to MEETINGS_PORT alone.
    expect(env.TLS_CERT_FILE).toBe('/etc/udaconnect/tls/tls.crt');
    expect(env.TLS_KEY_FILE).toBe('/etc/udaconnect/tls/tls.key');
    const svc = service('connection-service-meetings');
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.selector).toEqual(workload('connection-service').spec.selector.matchLabels);
    expect(svc.spec.ports).toHaveLength(1);
    const sp = svc.spec.ports[0];
    expect([sp.port, sp.nodePort, portNumber(c, sp.targetPort)]).toEqual([30005, 30005, 30005]);
    // The internal Service does not list it (a NodePort Service publishes every port it lists).
    expect(service('connection-service').spec.ports.map((p: { port: number }) => p.port)).toEqual([30003]);
  });

  it.each(EXPECTED.map((e) => [e.workload, e] as const))('%s gets every required variable, and the config parses', (_n, e) => {
    const w = workload(e.workload);
    expect(w.kind).toBe(e.kind);
    const env = resolveEnv(container(e.workload));
    for (const key of required(e.schema)) expect({ key, present: key in env }).toEqual({ key, present: true });
    expect(required(e.schema)).toContain('DATABASE_URL');
    // The whole environment satisfies the schema (types, formats: host:port, postgresql:// URL).
    const parsed = e.schema.safeParse(env);
    expect(parsed.success ? 'ok' : parsed.error.message).toBe('ok');
  });

  it.each(EXPECTED.filter((e) => e.kind === 'Deployment').map((e) => [e.workload, e] as const))(
    '%s: PORT, containerPort, Service, probes and NodePort agree with the code’s default port',
    (_n, e) => {
      const c = container(e.workload);
      const defaultPort = defaultOf(e.schema, 'PORT') as number;
      const env = e.schema.parse(resolveEnv(c)) as { PORT: number; HEALTH_PORT?: number; MEETINGS_PORT?: number; TLS_CERT_FILE?: string };
      expect(env.PORT).toBe(defaultPort);
      // The only other ports: location-ingest's plaintext health-only port and connection-service's
      // devices' port (a Service of its own, checked below), when set.
      const healthPort = env.HEALTH_PORT;
      const others = [healthPort, env.MEETINGS_PORT].filter((p): p is number => p !== undefined);
      expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([defaultPort, ...others]);
      for (const p of others) expect(p).not.toBe(defaultPort);
      // Whether PORT itself speaks TLS: connection-service's certificate is for its devices' port only.
      const portTls = Boolean(env.TLS_CERT_FILE) && env.MEETINGS_PORT === undefined;

      const svc = service(e.workload);
      expect(svc.spec.type ?? 'ClusterIP').toBe(e.serviceType);
      expect(svc.spec.ports).toHaveLength(1);
      const sp = svc.spec.ports[0];
      expect(sp.port).toBe(defaultPort);
      expect(portNumber(c, sp.targetPort ?? sp.port)).toBe(defaultPort);
      if (e.serviceType === 'NodePort') expect(sp.nodePort).toBe(defaultPort);
      else expect(sp.nodePort).toBeUndefined();

      for (const probeName of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const probe = c[probeName];
        if (!probe) continue;
        const port = probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
        // TCP checks need no protocol: on PORT itself, TLS or not. A gRPC probe cannot speak TLS.
        const expected = probe.grpc && healthPort !== undefined ? healthPort : defaultPort;
        expect({ probeName, port: portNumber(c, port) }).toEqual({ probeName, port: expected });
        if (probe.grpc && portTls) expect({ probeName, grpcProbeOnTlsPort: probe.grpc.port === defaultPort }).toEqual({ probeName, grpcProbeOnTlsPort: false });
      }
      if (e.protocol === 'http') {
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        // HTTPS when the service serves TLS, plain HTTP otherwise (the kubelet does not verify the certificate).
        for (const probeName of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          if (c[probeName]?.httpGet)
            expect({ probeName, scheme: c[probeName].httpGet.scheme ?? 'HTTP' }).toEqual({ probeName, scheme: portTls ? 'HTTPS' : 'HTTP' });
        }
      } else {
        // Native gRPC health probe (grpc.health.v1), on the plaintext health port when there is
        // one; liveness is a TCP check (see the manifest).
        expect(c.readinessProbe.grpc).toEqual({ port: healthPort ?? defaultPort });
      }
    },
  );

  it('person-api reaches connection-service, and the Kafka and database addresses point at their Services', () => {
    const cm = configMaps.get('udaconnect-config')!;
    const [csHost, csPort] = cm.CONNECTION_SERVICE_ADDRESS!.split(':');
    expect(csHost!.split('.')[0]).toBe('connection-service');
    expect(Number(csPort)).toBe(service('connection-service').spec.ports[0].port);

    const kafkaPort = service('kafka').spec.ports.find((p: { name: string }) => p.name === 'kafka').port;
    for (const broker of cm.KAFKA_BROKERS!.split(',')) {
      const [host, port] = broker.split(':');
      expect(host!.split('.')[0]).toBe('kafka');
      expect(Number(port)).toBe(kafkaPort);
    }
    // The broker advertises the same address the clients use.
    const kafkaEnv = resolveEnv(podSpec(workload('kafka')).containers[0]);
    expect(kafkaEnv.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${cm.KAFKA_BROKERS}`);

    const db = new URL(secretExample.DATABASE_URL!.replace(/<[^>]*>/g, 'x'));
    expect(db.hostname.split('.')[0]).toBe('postgis');
    expect(Number(db.port)).toBe(service('postgis').spec.ports[0].port);
    expect(db.username).toBe(cm.POSTGRES_USER);
    expect(db.pathname).toBe(`/${cm.POSTGRES_DB}`);
  });

  it('frontend: PORT, containerPort, Service, probes and NodePort agree with its config and server; PERSON_API_URL is person-api’s Service, over https', () => {
    const w = workload(FRONTEND.workload);
    expect(w.kind).toBe('Deployment');
    const c = container(FRONTEND.workload);
    const src = fs.readFileSync(path.join(ROOT, 'modules/frontend/server/frontend-server.ts'), 'utf8');
    // The defaults the checks below rely on are still the code's.
    expect(defaultOf(frontendConfigSchema, 'PORT')).toBe(FRONTEND.defaultPort);
    expect(src).toMatch(/app\.get\('\/healthz'/);

    const env = resolveEnv(c);
    expect(Object.keys(env).sort()).toEqual(['PERSON_API_CA_FILE', 'PERSON_API_URL', 'PORT']);
    expect(frontendConfigSchema.safeParse(env).success).toBe(true);
    expect(Number(env.PORT)).toBe(FRONTEND.defaultPort);
    expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([FRONTEND.defaultPort]);

    const svc = service(FRONTEND.workload);
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports).toHaveLength(1);
    const sp = svc.spec.ports[0];
    expect(sp.port).toBe(FRONTEND.defaultPort);
    expect(portNumber(c, sp.targetPort ?? sp.port)).toBe(FRONTEND.defaultPort);
    expect(sp.nodePort).toBe(FRONTEND.defaultPort);

    for (const probeName of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const probe = c[probeName];
      if (!probe) continue;
      expect({ probeName, port: portNumber(c, probe.httpGet?.port) }).toEqual({ probeName, port: FRONTEND.defaultPort });
    }
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(['/healthz', '/']).toContain(c.readinessProbe.httpGet.path);

    // The /api proxy target: https (person-api serves TLS only) to person-api's Service and port,
    // trusting the CA of the certificate person-api serves (checked with the mounts below).
    const api = new URL(env.PERSON_API_URL!);
    expect(api.protocol).toBe('https:');
    expect(Object.keys(frontendConfigSchema.shape)).toContain('PERSON_API_CA_FILE');
    expect(api.hostname.split('.')[0]).toBe('person-api');
    expect(Number(api.port)).toBe(service('person-api').spec.ports[0].port);
    expect(env.API_BASE_URL).toBeUndefined();
  });

  it('terminationGracePeriodSeconds outlasts each service’s own drain and hard stop', () => {
    for (const e of EXPECTED.filter((x) => x.kind === 'Deployment')) {
      const grace = podSpec(workload(e.workload)).terminationGracePeriodSeconds as number;
      const drain = defaultOf(e.schema, 'DRAIN_TIMEOUT_MS') as number | undefined;
      if (drain !== undefined) expect(drain + 10_000).toBe(e.shutdownMs);
      expect({ w: e.workload, longer: grace * 1000 > e.shutdownMs }).toEqual({ w: e.workload, longer: true });
    }
    expect(podSpec(workload('location-ingest')).terminationGracePeriodSeconds).toBe(30);
    expect(podSpec(workload(FRONTEND.workload)).terminationGracePeriodSeconds * 1000).toBeGreaterThan(FRONTEND.shutdownMs);
  });
});

/** The variables the frontend server reads: its config schema's. */
function frontendVariables(): Set<string> {
  return new Set(Object.keys(frontendConfigSchema.shape));
}

/** The names of the variables a container sets (env only: envFrom would hide them). */
function envNames(c: Container): string[] {
  expect(c.envFrom).toBeUndefined();
  return (c.env ?? []).map((e: { name: string }) => e.name);
}

describe('every variable a manifest sets is one the service reads', () => {
  it.each(EXPECTED.map((e) => [e.workload, e] as const))('%s: known to its config schema', (_n, e) => {
    const known = Object.keys(e.schema.shape);
    const unknown = envNames(container(e.workload)).filter((n) => !known.includes(n));
    expect(unknown).toEqual([]);
  });

  it('frontend: known to its config schema', () => {
    const known = frontendVariables();
    expect([...known]).toEqual(expect.arrayContaining(['PORT', 'PERSON_API_URL', 'PERSON_API_CA_FILE', 'API_BASE_URL', 'TILE_URL']));
    expect(envNames(container(FRONTEND.workload)).filter((n) => !known.has(n))).toEqual([]);
  });

  it('no variable is set twice in one container', () => {
    for (const w of workloads(docs)) {
      for (const c of podSpec(w.obj).containers as Container[]) {
        const names: string[] = (c.env ?? []).map((e: { name: string }) => e.name);
        expect({ c: c.name, dupes: names.filter((n, i) => names.indexOf(n) !== i) }).toEqual({ c: c.name, dupes: [] });
      }
    }
  });
});

/** workload → "secret/key" → the env vars that take it (secretKeyRef). */
function secretKeyRefs(): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const w of workloads(docs)) {
    for (const c of podSpec(w.obj).containers as Container[]) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const key = `${ref.name}/${ref.key}`;
        const byKey = out.get(w.obj.metadata.name) ?? new Map<string, string[]>();
        byKey.set(key, [...(byKey.get(key) ?? []), e.name]);
        out.set(w.obj.metadata.name, byKey);
      }
    }
  }
  return out;
}

interface MountedFile {
  workload: string;
  secret: string;
  key: string;
  /** Absolute path in the container. */
  file: string;
  mode: number;
}

/** Every file of a Secret volume that a container of the workload mounts. */
function mountedSecretFiles(workloadName: string): MountedFile[] {
  const spec = podSpec(workload(workloadName));
  const out: MountedFile[] = [];
  for (const v of spec.volumes ?? []) expect({ volume: v.name, projected: v.projected }).toEqual({ volume: v.name, projected: undefined });
  for (const c of spec.containers as Container[]) {
    for (const m of c.volumeMounts ?? []) {
      const vol = (spec.volumes ?? []).find((v: { name: string }) => v.name === m.name);
      if (!vol?.secret) continue;
      // Explicit items: a pod gets the files it needs, not the whole Secret.
      expect({ volume: vol.name, items: Array.isArray(vol.secret.items) }).toEqual({ volume: vol.name, items: true });
      expect({ volume: vol.name, readOnly: m.readOnly, subPath: m.subPath }).toEqual({ volume: vol.name, readOnly: true, subPath: undefined });
      for (const item of vol.secret.items) {
        out.push({
          workload: workloadName,
          secret: vol.secret.secretName,
          key: item.key,
          file: path.posix.join(m.mountPath, item.path),
          mode: item.mode ?? vol.secret.defaultMode ?? 0o644,
        });
      }
    }
  }
  return out;
}

/** Which variable names which file of which Secret. */
const FILE_VARIABLES: Record<string, { secret: string; key: string }> = {
  AUTH_JWKS_FILE: { secret: AUTH_SECRET, key: 'jwks.json' },
  AUTH_SIGNING_KEY_FILE: { secret: AUTH_SECRET, key: 'signing-key.json' },
  TLS_CERT_FILE: { secret: TLS_SECRET, key: 'tls.crt' },
  TLS_KEY_FILE: { secret: TLS_SECRET, key: 'tls.key' },
  PERSON_API_CA_FILE: { secret: TLS_SECRET, key: 'ca.crt' },
};

/** What each pod may see of the token keys and certificates: no more, no less. */
const SECRET_FILES: Record<string, string[]> = {
  'person-api': [`${AUTH_SECRET}/jwks.json`, `${AUTH_SECRET}/signing-key.json`, `${TLS_SECRET}/tls.crt`, `${TLS_SECRET}/tls.key`],
  'location-ingest': [`${AUTH_SECRET}/jwks.json`, `${TLS_SECRET}/tls.crt`, `${TLS_SECRET}/tls.key`],
  'connection-service': [`${AUTH_SECRET}/jwks.json`, `${TLS_SECRET}/tls.crt`, `${TLS_SECRET}/tls.key`],
  frontend: [`${TLS_SECRET}/ca.crt`],
  'location-writer': [],
  'db-migrate': [],
  postgis: [],
  kafka: [],
};

describe('secrets: database roles, token keys, certificates', () => {
  const refs = secretKeyRefs();
  const placeholderUrl = (key: string) => new URL(secretExample[key]!.replace(/<[^>]*>/g, 'x'));

  it('each service connects to PostgreSQL as its own role (db/roles.ts); only db-migrate gets ct_admin', () => {
    const admin = placeholderUrl('DATABASE_URL');
    for (const r of SERVICE_ROLES) {
      // The role's URL is the service's DATABASE_URL (and nothing else from udaconnect-db).
      expect({ service: r.service, keys: [...(refs.get(r.service)?.entries() ?? [])] }).toEqual({
        service: r.service,
        keys: [[`${SECRET_NAME}/${r.urlEnv}`, ['DATABASE_URL']]],
      });
      const url = placeholderUrl(r.urlEnv);
      expect({ key: r.urlEnv, user: url.username, host: url.host, db: url.pathname }).toEqual({
        key: r.urlEnv,
        user: r.role,
        host: admin.host,
        db: admin.pathname,
      });
      expect(secretExample[r.urlEnv]).toContain(`:<same-as-${r.passwordEnv}>@`);
      expect(secretExample[r.passwordEnv]).toMatch(/^<.*>$/);
    }
    // db-migrate: the admin URL and every role's password (db/cli.ts creates the roles with them).
    expect([...refs.get('db-migrate')!.entries()].sort()).toEqual(
      [[`${SECRET_NAME}/DATABASE_URL`, ['DATABASE_URL']], ...SERVICE_ROLES.map((r) => [`${SECRET_NAME}/${r.passwordEnv}`, [r.passwordEnv]])].sort(),
    );
    expect(Object.keys(migrateConfigSchema.shape)).toEqual(expect.arrayContaining(SERVICE_ROLES.map((r) => r.passwordEnv)));
    // postgis: its superuser's password, nothing else.
    expect([...refs.get('postgis')!.entries()]).toEqual([[`${SECRET_NAME}/POSTGRES_PASSWORD`, ['POSTGRES_PASSWORD']]]);
    // Nobody else takes anything from a Secret through the environment.
    expect([...refs.keys()].sort()).toEqual([...SERVICE_ROLES.map((r) => r.service), 'db-migrate', 'postgis'].sort());
    // One role per service, each a workload of this deployment.
    expect(new Set(SERVICE_ROLES.map((r) => r.role)).size).toBe(SERVICE_ROLES.length);
    for (const r of SERVICE_ROLES) expect(EXPECTED.map((e) => e.workload)).toContain(r.service);
  });

  it('secrets.env.example lists exactly the keys the manifests take from udaconnect-db; every reference resolves', () => {
    const used = new Set(
      [...refs.values()]
        .flatMap((byKey) => [...byKey.keys()])
        .filter((k) => k.startsWith(`${SECRET_NAME}/`))
        .map((k) => k.slice(SECRET_NAME.length + 1)),
    );
    expect(Object.keys(secretExample).sort()).toEqual([...used].sort());
    for (const [w, byKey] of refs) {
      for (const key of byKey.keys()) {
        const [secret, k] = key.split('/') as [string, string];
        expect({ w, key, known: generatorKeys.get(secret)?.includes(k) ?? false }).toEqual({ w, key, known: true });
      }
    }
    for (const w of workloads(docs)) {
      for (const f of mountedSecretFiles(w.obj.metadata.name)) {
        expect({ f, known: generatorKeys.get(f.secret)?.includes(f.key) ?? false }).toEqual({ f, known: true });
      }
    }
  });

  it.each(Object.keys(SECRET_FILES).map((w) => [w] as const))('%s mounts exactly the key and certificate files it needs, read-only', (w) => {
    const files = mountedSecretFiles(w);
    expect(files.map((f) => `${f.secret}/${f.key}`).sort()).toEqual([...SECRET_FILES[w]!].sort());
    if (files.length === 0) return;
    // Mode 0440 at most and group-readable; the group is the pod's fsGroup, which the kubelet
    // gives the files and adds to the container's groups (the app runs as uid 10001, not as the
    // files' owner, root).
    const spec = podSpec(workload(w));
    expect(spec.securityContext?.fsGroup).toBe(10001);
    for (const f of files) {
      expect({ file: f.file, extraBits: (f.mode & ~0o440).toString(8), groupRead: (f.mode & 0o040) !== 0 }).toEqual({
        file: f.file,
        extraBits: '0',
        groupRead: true,
      });
    }
    // Each mounted file is named by the variable the service reads it from, and each such
    // variable names the right file.
    const env = resolveEnv(container(w));
    for (const f of files) {
      const vars = Object.entries(FILE_VARIABLES)
        .filter(([, v]) => v.secret === f.secret && v.key === f.key)
        .map(([k]) => k);
      expect({ file: f.file, setBy: vars.filter((v) => env[v] === f.file) }).toEqual({ file: f.file, setBy: vars });
    }
    for (const [v, want] of Object.entries(FILE_VARIABLES)) {
      if (env[v] === undefined) continue;
      const f = files.find((x) => x.file === env[v]);
      expect({ v, mounted: f && `${f.secret}/${f.key}` }).toEqual({ v, mounted: `${want.secret}/${want.key}` });
    }
  });

  it('only person-api ever sees the signing key', () => {
    const holders = workloads(docs)
      .map((d) => d.obj.metadata.name)
      .filter((w) => mountedSecretFiles(w).some((f) => f.key === 'signing-key.json'));
    expect(holders).toEqual(['person-api']);
    // No token key or certificate reaches a pod through an environment variable.
    for (const byKey of refs.values()) for (const key of byKey.keys()) expect(key.startsWith(`${SECRET_NAME}/`)).toBe(true);
  });

  it('every service that takes requests verifies tokens; person-api signs; anonymous reads stay off', () => {
    for (const w of ['person-api', 'location-ingest', 'connection-service']) {
      const e = EXPECTED.find((x) => x.workload === w)!;
      expect(required(e.schema)).toContain('AUTH_JWKS_FILE');
      const env = resolveEnv(container(w));
      expect(env.AUTH_JWKS_FILE).toBeDefined();
      // Revocation is polled at most a minute apart (the schema's default unless set).
      expect((e.schema.parse(env) as { REVOCATION_POLL_MS: number }).REVOCATION_POLL_MS).toBeLessThanOrEqual(60_000);
    }
    expect(required(personApiConfigSchema)).toContain('AUTH_SIGNING_KEY_FILE');
    const env = resolveEnv(container('person-api'));
    // The migration aid for the old page stays off (unset or false) in the deployment.
    expect(['false', '0', undefined]).toContain(env.LEGACY_ANONYMOUS_READS);
    for (const cm of configMaps.values()) expect(cm.LEGACY_ANONYMOUS_READS ?? 'false').toBe('false');
    expect(personApiConfigSchema.parse(env).LEGACY_ANONYMOUS_READS).toBe(false);
  });

  it('CORS_ORIGINS holds the frontend’s origin as the host sees it through the forwarded NodePort', () => {
    const cfg = personApiConfigSchema.parse(resolveEnv(container('person-api')));
    const nodePort = service(FRONTEND.workload).spec.ports[0].nodePort;
    expect(cfg.CORS_ORIGINS).toContain(`http://localhost:${nodePort}`);
    for (const o of cfg.CORS_ORIGINS) expect(new URL(o).port).toBe(String(nodePort));
  });

  it('person-api and location-ingest serve TLS; probes and the frontend’s proxy fit', () => {
    for (const w of ['person-api', 'location-ingest']) {
      const env = resolveEnv(container(w));
      expect({ w, cert: env.TLS_CERT_FILE !== undefined, key: env.TLS_KEY_FILE !== undefined }).toEqual({ w, cert: true, key: true });
    }
    // location-ingest: its gRPC probe goes to the plaintext health-only port, which is not PORT.
    const ingestContainer = container('location-ingest');
    const ingest = ingestConfigSchema.parse(resolveEnv(ingestContainer));
    expect(ingest.HEALTH_PORT).toBeDefined();
    expect(ingest.HEALTH_PORT).not.toBe(ingest.PORT);
    expect(ingestContainer.readinessProbe.grpc.port).toBe(ingest.HEALTH_PORT);
    for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      if (ingestContainer[p]?.grpc) expect({ p, port: ingestContainer[p].grpc.port }).toEqual({ p, port: ingest.HEALTH_PORT });
    }
    // person-api: every probe is an HTTPS GET.
    const c = container('person-api');
    for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) expect({ p, scheme: c[p].httpGet.scheme }).toEqual({ p, scheme: 'HTTPS' });
    // frontend → person-api over https, trusting the CA file (mounted from udaconnect-tls, above).
    const fe = resolveEnv(container(FRONTEND.workload));
    expect(new URL(fe.PERSON_API_URL!).protocol).toBe('https:');
    expect(fe.PERSON_API_CA_FILE).toBeDefined();
  });
});

describe('what is reachable from outside the cluster', () => {
  const services = byKind(docs, 'Service');

  it('NodePorts: the frontend, person-api, location-ingest’s TLS port and connection-service’s devices’ port, nothing else', () => {
    const exposed = services
      .filter((s) => s.spec.type === 'NodePort' || s.spec.type === 'LoadBalancer')
      .flatMap((s) => s.spec.ports.map((p: { nodePort?: number }) => `${s.metadata.name}:${p.nodePort}`));
    expect(exposed.sort()).toEqual(['connection-service-meetings:30005', 'frontend:30000', 'location-ingest:30002', 'person-api:30001']);
    for (const s of services) {
      expect({ s: s.metadata.name, type: s.spec.type ?? 'ClusterIP' }).not.toEqual({ s: s.metadata.name, type: 'LoadBalancer' });
      expect(s.spec.externalIPs).toBeUndefined();
    }
    // No container publishes a port on the node itself, and no pod shares the node's network.
    for (const w of workloads(docs)) {
      expect(podSpec(w.obj).hostNetwork ?? false).toBe(false);
      for (const c of podSpec(w.obj).containers as Container[]) {
        for (const p of c.ports ?? []) expect({ c: c.name, hostPort: p.hostPort }).toEqual({ c: c.name, hostPort: undefined });
      }
    }
  });

  it('operator endpoints have no NodePort: location-writer’s 30004 (/metrics), connection-service, the ingest health port', () => {
    for (const name of ['location-writer', 'connection-service']) {
      expect({ name, type: service(name).spec.type ?? 'ClusterIP' }).toEqual({ name, type: 'ClusterIP' });
    }
    const writer = locationWriterConfigSchema.parse(resolveEnv(container('location-writer')));
    expect(writer.PORT).toBe(30004);
    // 0.0.0.0 in the pod (the kubelet probes from the node), behind a ClusterIP Service only;
    // the code's default stays the loopback interface.
    expect(writer.METRICS_HOST).toBe('0.0.0.0');
    expect(defaultOf(locationWriterConfigSchema, 'METRICS_HOST')).toBe('127.0.0.1');
    const ingestContainer = container('location-ingest');
    const health = ingestConfigSchema.parse(resolveEnv(ingestContainer)).HEALTH_PORT!;
    for (const s of services) {
      for (const p of s.spec.ports) {
        // No Service of any type leads to the health-only port; no NodePort is 30004.
        if (s.spec.selector?.['app.kubernetes.io/name'] === 'location-ingest') {
          expect({ s: s.metadata.name, target: portNumber(ingestContainer, p.targetPort ?? p.port) }).not.toEqual({ s: s.metadata.name, target: health });
        }
        if (s.spec.type === 'NodePort') expect([p.port, p.nodePort]).not.toContain(30004);
      }
    }
  });
});

describe('images and the Dockerfile', () => {
  const images = workloads(docs).flatMap((d) =>
    podSpec(d.obj).containers.map((c: Container) => ({ workload: d.obj.metadata.name, image: c.image as string, c })),
  );
  const ours = images.filter((i) => i.image.startsWith('udaconnect/'));

  it('every service has its own image', () => {
    expect(ours.map((i) => i.image.split(':')[0]).sort()).toEqual([
      'udaconnect/connection-service',
      'udaconnect/frontend',
      'udaconnect/location-ingest',
      'udaconnect/location-writer',
      'udaconnect/migrate',
      'udaconnect/person-api',
    ]);
    const infra = images
      .filter((i) => !i.image.startsWith('udaconnect/'))
      .map((i) => i.image)
      .sort();
    expect(infra[0]).toMatch(/^apache\/kafka:4\.\d+\.\d+$/);
    expect(infra[1]).toBe('postgis/postgis:15-3.4');
  });

  it.each(ours.map((i) => [i.image, i] as const))('%s: a Dockerfile target, the package version, imported not pulled', (_img, i) => {
    const [repo, tag] = i.image.split(':') as [string, string];
    const target = repo.slice('udaconnect/'.length);
    const stage = dockerStages.get(target);
    expect(stage).toBeDefined();
    expect(tag).toBe(rootVersion);
    expect(i.c.imagePullPolicy).toBe('IfNotPresent');
  });

  it.each(ours.map((i) => [i.image.split(':')[0]!.slice('udaconnect/'.length)] as const))(
    'Dockerfile target %s runs as a non-root user with an exec-form CMD',
    (target) => {
      const stage = dockerStages.get(target)!;
      expect(stage.user).toBeDefined();
      const user = stage.user!.split(':')[0]!;
      expect(['root', '0', '']).not.toContain(user);
      expect(isExecForm(stage.entrypoint) || (stage.entrypoint === undefined && isExecForm(stage.cmd))).toBe(true);
      expect(stage.from).toMatch(/^(runtime|node:20-bookworm-slim|node:20-alpine)/);
    },
  );

  it('the images carry the reflection descriptor sets (not protos/, which nothing reads at run time); services start from their main.ts', () => {
    const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(text).not.toMatch(/^COPY protos /m);
    expect(text).toMatch(/^COPY modules\/proto \.\/modules\/proto$/m);
    expect(fs.existsSync(path.join(ROOT, 'modules/proto/src/gen/descriptors/udaconnect.binpb'))).toBe(true);
    for (const svc of ['person-api', 'location-ingest', 'location-writer', 'connection-service']) {
      expect(JSON.parse(dockerStages.get(svc)!.cmd!)).toEqual(['node', '--import', 'tsx', `modules/${svc}/src/main.ts`]);
      expect(fs.existsSync(path.join(ROOT, `modules/${svc}/src/main.ts`))).toBe(true);
    }
    expect(JSON.parse(dockerStages.get('migrate')!.cmd!)).toEqual(['node', '--import', 'tsx', 'db/cli.ts', 'setup']);
    // frontend: dist/ is built in the image build and copied into the final stage, so the server
    // never runs vite at start (read-only root filesystem); express is a declared dependency so
    // `npm prune --omit=dev` keeps it.
    expect(JSON.parse(dockerStages.get('frontend')!.cmd!)).toEqual(['node', '--import', 'tsx', 'modules/frontend/server/main.ts']);
    expect(dockerStages.get('frontend')!.from).toBe('runtime');
    expect(dockerStages.get('frontend-build')!.from).toBe('build');
    expect(text).toMatch(/^COPY modules\/frontend\/package\.json modules\/frontend\/$/m);
    expect(text).toMatch(/^RUN npm run build -w @udaconnect\/frontend$/m);
    expect(text).toMatch(/^COPY --from=frontend-build \/app\/modules\/frontend\/dist \.\/modules\/frontend\/dist$/m);
    const fe = JSON.parse(fs.readFileSync(path.join(ROOT, 'modules/frontend/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(fe.dependencies.express).toBeDefined();
    // `npm ci` from the committed lockfile (never `npm install`); no dev dependencies in the final stages.
    expect(text).toMatch(/^RUN npm ci /m);
    expect(text).not.toMatch(/^RUN npm install/m);
    expect(text).toMatch(/npm prune --omit=dev/);
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.git', '.udaconnect', 'deployment']) expect(ignore).toContain(entry);
  });
});

describe('labels, security and resources', () => {
  it.each(workloads(docs).map((d) => [`${d.obj.kind}/${d.obj.metadata.name}`, d.obj] as const))('%s', (_n, w) => {
    const tpl = w.spec.template;
    if (w.kind !== 'Job') {
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels as Record<string, string>)) expect(tpl.metadata.labels[k]).toBe(v);
    }
    const spec = tpl.spec;
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(0);
    for (const c of spec.containers as Container[]) {
      const sc = c.securityContext ?? {};
      expect(sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot).toBe(true);
      expect(sc.runAsUser ?? spec.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.capabilities?.drop).toContain('ALL');
      expect(sc.capabilities?.add).toBeUndefined();
      expect(sc.privileged ?? false).toBe(false);
      expect((sc.seccompProfile ?? spec.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
      for (const kind of ['requests', 'limits']) {
        expect(c.resources?.[kind]?.cpu).toBeDefined();
        expect(c.resources?.[kind]?.memory).toBeDefined();
      }
      if (w.kind !== 'Job') {
        // A Job runs to completion: probes would add nothing.
        expect(c.readinessProbe).toBeDefined();
        expect(c.livenessProbe).toBeDefined();
      }
      if (c.image.startsWith('udaconnect/')) {
        expect(sc.readOnlyRootFilesystem).toBe(true);
        const tmp = (c.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === '/tmp');
        expect(tmp).toBeDefined();
        expect(spec.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir).toBeDefined();
      }
    }
    expect(spec.hostNetwork ?? false).toBe(false);
  });

  it('PostgreSQL’s memory settings fit the PostGIS container’s memory limit', () => {
    const pg = byKind(docs, 'StatefulSet', 'postgis')[0]!;
    const c = (podSpec(pg).containers as Container[]).find((x) => x.name === 'postgis')!;
    const settings = new Map<string, string>();
    const args = (c.args ?? []) as string[];
    for (let i = 0; i < args.length; i++) if (args[i] === '-c') settings.set(...(args[++i]!.split('=') as [string, string]));
    const mib = (v: string) => {
      const m = /^(\d+)(MB|GB|Mi|Gi)$/.exec(v);
      if (!m) throw new Error(`unexpected size ${v}`);
      return Number(m[1]) * (m[2]!.startsWith('G') ? 1024 : 1);
    };
    const limit = mib(c.resources.limits.memory);
    expect(mib(settings.get('shared_buffers')!)).toBeLessThanOrEqual(limit / 4);
    expect(mib(settings.get('effective_cache_size')!)).toBeLessThanOrEqual(limit);
    expect(Number(settings.get('random_page_cost'))).toBe(1.1);
  });

  it('every Service selects the pods of a workload', () => {
    const podLabels = workloads(docs).map((d) => d.obj.spec.template.metadata.labels as Record<string, string>);
    for (const s of byKind(docs, 'Service')) {
      const sel = s.spec.selector as Record<string, string>;
      expect(Object.keys(sel).length).toBeGreaterThan(0);
      const matches = podLabels.filter((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
      expect({ service: s.metadata.name, matches: matches.length }).toEqual({ service: s.metadata.name, matches: 1 });
    }
  });

  it('no committed Secret and no plaintext credential in any manifest', () => {
    expect(byKind(docs, 'Secret')).toEqual([]);
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`));
      if (node && typeof node === 'object') {
        const o = node as Record<string, unknown>;
        // An env var whose name says "password"/"secret"/"token" must come from a Secret.
        if (typeof o.name === 'string' && /pass(word)?|secret|token|credential/i.test(o.name) && 'value' in o)
          throw new Error(`${where}: ${o.name} has a literal value`);
        // (secretName of a Secret volume: one of the generated Secrets, a reference, not a credential.)
        for (const [k, v] of Object.entries(o)) {
          const secretVolumeRef = k === 'secretName' && generatorKeys.has(v as string);
          if (/pass(word)?|secret|token/i.test(k) && typeof v === 'string' && !secretVolumeRef) throw new Error(`${where}.${k} is a literal credential`);
          walk(v, `${where}.${k}`);
        }
      } else if (typeof node === 'string' && /\w+:\/\/[^/\s:@]+:[^@\s]+@/.test(node)) {
        throw new Error(`${where}: URL with a password`);
      }
    };
    for (const d of docs) expect(() => walk(d.obj, `${d.file}:${d.obj.kind}/${d.obj.metadata.name}`)).not.toThrow();
    const raw = fs
      .readdirSync(DEPLOYMENT_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => fs.readFileSync(path.join(DEPLOYMENT_DIR, f), 'utf8'))
      .join('\n');
    expect(raw).not.toMatch(/password\s*[:=]\s*\S/i);
  });
});

describe('network policies', () => {
  const policies = byKind(docs, 'NetworkPolicy');
  const podName = (labels: Record<string, string>) => labels['app.kubernetes.io/name'];
  const allPods = workloads(docs).map((d) => podName(d.obj.spec.template.metadata.labels)!);

  /** Pod names a label selector matches (matchLabels and `In` expressions on app.kubernetes.io/name). */
  function selected(sel: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values: string[] }> }): string[] {
    return workloads(docs)
      .map((d) => d.obj.spec.template.metadata.labels as Record<string, string>)
      .filter((l) => Object.entries(sel.matchLabels ?? {}).every(([k, v]) => l[k] === v))
      .filter((l) =>
        (sel.matchExpressions ?? []).every((e) => {
          if (e.operator !== 'In') throw new Error(`unsupported operator ${e.operator}`);
          return e.values.includes(l[e.key]!);
        }),
      )
      .map((l) => podName(l)!);
  }

  it('deny all ingress by default', () => {
    const deny = policies.filter((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny).toHaveLength(1);
    expect(deny[0]!.spec.policyTypes).toEqual(['Ingress']);
    expect(deny[0]!.spec.ingress).toBeUndefined();
  });

  it('allow exactly the flows of the architecture', () => {
    const flows = new Set<string>();
    for (const p of policies) {
      if (Object.keys(p.spec.podSelector).length === 0) continue;
      expect(p.spec.policyTypes).toEqual(['Ingress']);
      const targets = selected(p.spec.podSelector);
      expect(targets.length).toBeGreaterThan(0);
      for (const rule of p.spec.ingress ?? []) {
        // No namespaceSelector/ipBlock anywhere: sources are pods of this namespace, or anyone.
        const sources: string[] = rule.from
          ? rule.from.flatMap((f: Record<string, unknown>) => {
              expect(Object.keys(f)).toEqual(['podSelector']);
              return selected(f.podSelector as never);
            })
          : ['any'];
        expect(rule.ports?.length).toBeGreaterThan(0);
        for (const t of targets) for (const s of sources) for (const port of rule.ports) flows.add(`${s} -> ${t}:${port.port}`);
      }
    }
    const expected = [
      'any -> person-api:30001',
      'any -> location-ingest:30002',
      'any -> connection-service:30005',
      'any -> frontend:30000',
      'frontend -> person-api:30001',
      'person-api -> connection-service:30003',
      ...['person-api', 'location-ingest', 'location-writer', 'connection-service', 'db-migrate'].map((s) => `${s} -> postgis:5432`),
      // connection-service reads the pings for live meetings.
      ...['person-api', 'location-ingest', 'location-writer', 'connection-service'].map((s) => `${s} -> kafka:9092`),
      'kafka -> kafka:9092',
      'kafka -> kafka:9093',
    ];
    expect([...flows].sort()).toEqual(expected.sort());
    expect(allPods.sort()).toEqual(['connection-service', 'db-migrate', 'frontend', 'kafka', 'location-ingest', 'location-writer', 'person-api', 'postgis']);
  });

  it('no pod may reach the ports only the kubelet needs: the ingest health port and location-writer', () => {
    const health = Number(configMaps.get('udaconnect-config')!.LOCATION_INGEST_HEALTH_PORT);
    expect(health).toBeGreaterThan(0);
    for (const p of policies) {
      if (Object.keys(p.spec.podSelector).length === 0) continue;
      const targets = selected(p.spec.podSelector);
      expect(targets).not.toContain('location-writer');
      if (targets.includes('location-ingest')) {
        for (const rule of p.spec.ingress ?? []) for (const port of rule.ports) expect(port.port).not.toBe(health);
      }
    }
  });

  it('allowed ports are the ports the target containers listen on', () => {
    for (const p of policies) {
      if (Object.keys(p.spec.podSelector).length === 0) continue;
      for (const t of selected(p.spec.podSelector)) {
        const ports = podSpec(workload(t)).containers.flatMap((c: Container) => c.ports.map((x: { containerPort: number }) => x.containerPort));
        for (const rule of p.spec.ingress) for (const port of rule.ports) expect(ports).toContain(port.port);
      }
    }
  });
});
