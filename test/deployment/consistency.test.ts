/**
 * Cross-checks between deployment/, the Dockerfile and the services' code: env vars against
 * the zod config schemas, ports, images, selectors, security settings, network policies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { env as envSchemas } from '../../modules/common/src/config';
import {
  DEPLOYMENT_DIR,
  K8sObject,
  ROOT,
  byKind,
  isExecForm,
  loadManifests,
  parseDockerfile,
  parseEnvFile,
  podSpec,
  workloads,
} from './manifests';

// db/cli.ts declares its schema inline (inside main); this is the same object.
const migrateConfigSchema = z.object({ DATABASE_URL: envSchemas.databaseUrl(), LOG_LEVEL: envSchemas.logLevel() });

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
  { workload: 'connection-service', kind: 'Deployment', schema: connectionConfigSchema, serviceType: 'ClusterIP', protocol: 'grpc', shutdownMs: 15_000 + 10_000 },
  { workload: 'db-migrate', kind: 'Job', schema: migrateConfigSchema, shutdownMs: 0 },
];

/**
 * The frontend has no zod schema: server/main.ts reads PORT (default 30000) and PERSON_API_URL
 * (default http://localhost:30001) by hand and exits on a bad value; these are its defaults.
 */
const FRONTEND = { workload: 'frontend', defaultPort: 30000, shutdownMs: 5_000 };

const docs = loadManifests();
const configMaps = new Map(byKind(docs, 'ConfigMap').map((c) => [c.metadata.name, (c.data ?? {}) as Record<string, string>]));
const secretExample = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));
const SECRET_NAME = 'udaconnect-db';
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
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
      out[e.name] = data![key]!;
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      if (name !== SECRET_NAME || !(key in secretExample)) fail(`${container.name}: ${e.name} refers to missing Secret key ${name}/${key}`);
      out[e.name] = secretExample[key]!;
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
      const env = e.schema.parse(resolveEnv(c)) as { PORT: number };
      expect(env.PORT).toBe(defaultPort);
      expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([defaultPort]);

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
        expect({ probeName, port: portNumber(c, port) }).toEqual({ probeName, port: defaultPort });
      }
      if (e.protocol === 'http') {
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      } else {
        // Native gRPC health probe (grpc.health.v1); liveness is a TCP check (see the manifest).
        expect(c.readinessProbe.grpc).toEqual({ port: defaultPort });
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

  it('frontend: PORT, containerPort, Service, probes and NodePort agree with server/main.ts; PERSON_API_URL is person-api’s Service', () => {
    const w = workload(FRONTEND.workload);
    expect(w.kind).toBe('Deployment');
    const c = container(FRONTEND.workload);
    const src = fs.readFileSync(path.join(ROOT, 'modules/frontend/server/main.ts'), 'utf8');
    // The defaults the checks below rely on are still the code's.
    expect(src).toContain(`env('PORT', '${FRONTEND.defaultPort}')`);
    expect(src).toContain("env('PERSON_API_URL',");
    expect(src).toMatch(/app\.get\('\/healthz'/);

    const env = resolveEnv(c);
    expect(Object.keys(env).sort()).toEqual(['PERSON_API_URL', 'PORT']);
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

    // The /api proxy target: plain http to person-api's Service and port.
    const api = new URL(env.PERSON_API_URL!);
    expect(api.protocol).toBe('http:');
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

describe('images and the Dockerfile', () => {
  const images = workloads(docs).flatMap((d) => podSpec(d.obj).containers.map((c: Container) => ({ workload: d.obj.metadata.name, image: c.image as string, c })));
  const ours = images.filter((i) => i.image.startsWith('udaconnect/'));

  it('every service has its own image', () => {
    expect(ours.map((i) => i.image.split(':')[0]).sort()).toEqual(
      ['udaconnect/connection-service', 'udaconnect/frontend', 'udaconnect/location-ingest', 'udaconnect/location-writer', 'udaconnect/migrate', 'udaconnect/person-api'],
    );
    const infra = images.filter((i) => !i.image.startsWith('udaconnect/')).map((i) => i.image).sort();
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

  it('the images carry protos/ and the reflection descriptor sets; services start from their main.ts', () => {
    const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^COPY protos \.\/protos$/m);
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
    // Not `npm ci` (see the comment in the Dockerfile); no dev dependencies in the final stages.
    expect(text).not.toMatch(/^RUN npm ci/m);
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
        if (typeof o.name === 'string' && /pass(word)?|secret|token|credential/i.test(o.name) && 'value' in o) throw new Error(`${where}: ${o.name} has a literal value`);
        for (const [k, v] of Object.entries(o)) {
          if (/pass(word)?|secret|token/i.test(k) && typeof v === 'string') throw new Error(`${where}.${k} is a literal credential`);
          walk(v, `${where}.${k}`);
        }
      } else if (typeof node === 'string' && /\w+:\/\/[^/\s:@]+:[^@\s]+@/.test(node)) {
        throw new Error(`${where}: URL with a password`);
      }
    };
    for (const d of docs) expect(() => walk(d.obj, `${d.file}:${d.obj.kind}/${d.obj.metadata.name}`)).not.toThrow();
    const raw = fs.readdirSync(DEPLOYMENT_DIR).filter((f) => f.endsWith('.yaml')).map((f) => fs.readFileSync(path.join(DEPLOYMENT_DIR, f), 'utf8')).join('\n');
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
      'any -> frontend:30000',
      'frontend -> person-api:30001',
      'person-api -> connection-service:30003',
      ...['person-api', 'location-ingest', 'location-writer', 'connection-service', 'db-migrate'].map((s) => `${s} -> postgis:5432`),
      ...['person-api', 'location-ingest', 'location-writer'].map((s) => `${s} -> kafka:9092`),
      'kafka -> kafka:9092',
      'kafka -> kafka:9093',
    ];
    expect([...flows].sort()).toEqual(expected.sort());
    expect(allPods.sort()).toEqual(['connection-service', 'db-migrate', 'frontend', 'kafka', 'location-ingest', 'location-writer', 'person-api', 'postgis']);
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
