/**
 * Runs the rendered manifests (`kubectl kustomize deployment/`) on podman, which has no cluster:
 * `podman kube play` (4.3) runs Pods but skips StatefulSet, Job, Service and NetworkPolicy, has no
 * Service DNS, publishes every containerPort on the host, shares emptyDirs between pods, does not
 * mount Secrets the kubelet's way and ignores readiness probes. This converter turns each
 * workload into one Pod that podman runs with the workload's own containers, images, args, env,
 * securityContext and resources unchanged:
 *
 *   Deployment, StatefulSet   → Pod (restartPolicy Always); volumeClaimTemplates → a fresh host
 *                               directory, mode 0777 as k3s's local-path provisioner makes them
 *   Job                       → Pod with the Job's restartPolicy; the runner waits for exit 0
 *   Service                   → a static IP per selected pod, and hostAliases in every pod for
 *                               <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local
 *   ConfigMap                 → configMapKeyRef resolved to the value
 *   Secret                    → env secretKeyRef: a podman secret holding the Secret (kube play
 *                               reads it); secret volumes: files written as the kubelet does
 *                               (items, defaultMode, group fsGroup)
 *   emptyDir                  → a host directory per pod (mode 1777)
 *   containerPort             → published on 127.0.0.1 only, at PORT_BASE + port % 10000, so the
 *                               host's own 5432/9092/3000x stay free
 *   probes                    → removed from the pod (podman would turn a named port into 0) and
 *                               written to plan.json; `probe` runs a readiness probe from the host
 *
 * usage: node --import tsx scripts/deploy/podman-kube.ts convert <rendered.yaml> <out-dir>
 *            [--subnet 10.213.77] [--port-base 20000]
 *        node --import tsx scripts/deploy/podman-kube.ts probe <plan.json> <pod> [readiness|startup]
 *        node --import tsx scripts/deploy/podman-kube.ts break <case|list> [rendered.yaml]
 *        node --import tsx scripts/deploy/podman-kube.ts e2e <plan.json> <ca.crt> <secrets.env>   (e2e.ts)
 * `convert` writes <out-dir>/pods/<n>-<name>.yaml, <out-dir>/secrets/<name>.json (mode 600),
 * <out-dir>/volumes/… and <out-dir>/plan.json (what scripts/deploy/podman-run.sh follows).
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   This module walks untyped Kubernetes YAML (Obj), as test/deployment does, where eslint.config.mjs allows `any`. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseAllDocuments, stringify } from 'yaml';

type Obj = Record<string, any>;
const PODMAN = process.env.PODMAN ?? 'podman';

interface Probe {
  kind: 'exec' | 'tcp' | 'http' | 'grpc';
  port?: number;
  path?: string;
  scheme?: 'HTTP' | 'HTTPS';
  command?: string[];
  timeoutSeconds: number;
  periodSeconds: number;
  failureThreshold: number;
}

interface PlannedPod {
  name: string;
  kind: string;
  file: string;
  ip: string;
  /** 'service' runs until stopped; 'job' must exit 0. */
  role: 'service' | 'job';
  containers: { name: string; podmanName: string; readiness?: Probe; startup?: Probe; liveness?: Probe }[];
  terminationGracePeriodSeconds: number;
  /** A Job's backoffLimit: podman restarts at once, so more restarts than this fail the run. */
  backoffLimit?: number;
  /** containerPort → host port on 127.0.0.1 */
  ports: Record<string, number>;
}

export interface Plan {
  namespace: string;
  network: { subnet: string; gateway: string };
  pods: PlannedPod[];
  secrets: { name: string; file: string }[];
  volumeDirs: { dir: string; mode: string; uid?: number; gid?: number }[];
  services: { name: string; ip: string; hostnames: string[] }[];
  /** What the converter could not carry over, for the run's summary. */
  notes: string[];
}

export interface ConvertOptions {
  subnet: string; // first three octets, e.g. 10.213.77
  portBase: number;
  outDir: string;
}

export function parseRendered(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(d.errors.map((e) => e.message).join('; '));
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o != null);
}

function namedPort(container: Obj, port: unknown): number {
  if (typeof port === 'number') return port;
  const found = (container.ports ?? []).find((p: Obj) => p.name === port);
  if (!found) throw new Error(`container ${container.name}: no port named ${String(port)}`);
  return found.containerPort as number;
}

function probeOf(container: Obj, spec: Obj | undefined): Probe | undefined {
  if (!spec) return undefined;
  const common = {
    timeoutSeconds: spec.timeoutSeconds ?? 1,
    periodSeconds: spec.periodSeconds ?? 10,
    failureThreshold: spec.failureThreshold ?? 3,
  };
  if (spec.exec) return { kind: 'exec', command: spec.exec.command, ...common };
  if (spec.tcpSocket) return { kind: 'tcp', port: namedPort(container, spec.tcpSocket.port), ...common };
  if (spec.httpGet)
    return {
      kind: 'http',
      port: namedPort(container, spec.httpGet.port),
      path: spec.httpGet.path ?? '/',
      scheme: spec.httpGet.scheme ?? 'HTTP',
      ...common,
    };
  if (spec.grpc) return { kind: 'grpc', port: namedPort(container, spec.grpc.port), ...common };
  throw new Error(`container ${container.name}: unsupported probe ${JSON.stringify(spec)}`);
}

function selects(selector: Obj | undefined, labels: Obj | undefined): boolean {
  if (!selector || !labels) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function convert(objs: Obj[], opts: ConvertOptions): { plan: Plan; files: Map<string, string> } {
  const files = new Map<string, string>();
  const notes: string[] = [];
  const nsObj = objs.find((o) => o.kind === 'Namespace');
  const namespace: string = nsObj?.metadata?.name ?? objs.find((o) => o.metadata?.namespace)?.metadata.namespace ?? 'default';
  const configMaps = new Map(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name as string, (o.data ?? {}) as Obj]));
  const secrets = new Map(objs.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name as string, o]));
  const workloads = objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind as string));
  const services = objs.filter((o) => o.kind === 'Service');
  for (const o of objs) {
    if (!['Namespace', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'StatefulSet', 'Job', 'NetworkPolicy'].includes(o.kind as string))
      throw new Error(`no conversion for ${o.kind}/${o.metadata?.name}`);
  }

  // Static IPs, in the order of the rendered manifests (.10, .11, …).
  const ipOf = new Map<string, string>();
  workloads.forEach((w, i) => ipOf.set(w.metadata.name as string, `${opts.subnet}.${10 + i}`));

  const serviceHosts: Plan['services'] = [];
  for (const svc of services) {
    const target = workloads.find((w) => selects(svc.spec?.selector as Obj, w.spec.template.metadata?.labels as Obj));
    if (!target) throw new Error(`Service ${svc.metadata.name} selects no workload`);
    const n = svc.metadata.name as string;
    serviceHosts.push({
      name: n,
      ip: ipOf.get(target.metadata.name as string)!,
      hostnames: [n, `${n}.${namespace}`, `${n}.${namespace}.svc`, `${n}.${namespace}.svc.cluster.local`],
    });
    if (svc.spec?.type === 'NodePort')
      notes.push(
        `Service ${n} is a NodePort (${(svc.spec.ports as Obj[]).map((p) => p.nodePort).join(',')}); here its pod's port is published on 127.0.0.1 instead`,
      );
  }
  const hostAliases = serviceHosts.map((s) => ({ ip: s.ip, hostnames: s.hostnames }));

  const plan: Plan = {
    namespace,
    network: { subnet: `${opts.subnet}.0/24`, gateway: `${opts.subnet}.1` },
    pods: [],
    secrets: [],
    volumeDirs: [],
    services: serviceHosts,
    notes,
  };
  const usedSecrets = new Set<string>();
  const hostPorts = new Map<number, string>();

  workloads.forEach((w, i) => {
    const name = w.metadata.name as string;
    const tpl = structuredClone(w.spec.template) as Obj;
    const spec = tpl.spec as Obj;
    const podSc = (spec.securityContext ?? {}) as Obj;
    const fsGroup = podSc.fsGroup as number | undefined;
    const volRoot = path.join(opts.outDir, 'volumes', name);
    const hostVolumes: Obj[] = [];

    for (const v of (spec.volumes ?? []) as Obj[]) {
      const dir = path.join(volRoot, v.name as string);
      if (v.emptyDir) {
        plan.volumeDirs.push({ dir, mode: '1777' });
        hostVolumes.push({ name: v.name, hostPath: { path: dir, type: 'Directory' } });
      } else if (v.secret) {
        const s = secrets.get(v.secret.secretName as string);
        if (!s) throw new Error(`${name}: volume ${v.name} names Secret ${v.secret.secretName}, which the manifests do not hold`);
        const mode = (v.secret.defaultMode as number | undefined) ?? 0o644;
        const items: { key: string; path: string }[] = v.secret.items ?? Object.keys(s.data ?? {}).map((k) => ({ key: k, path: k }));
        for (const it of items) {
          const b64 = (s.data ?? {})[it.key] as string | undefined;
          if (b64 === undefined) throw new Error(`${name}: Secret ${s.metadata.name} has no key ${it.key}`);
          files.set(path.join(dir, it.path), Buffer.from(b64, 'base64').toString('binary'));
          plan.volumeDirs.push({ dir: path.join(dir, it.path), mode: mode.toString(8), uid: 0, gid: fsGroup ?? 0 });
        }
        plan.volumeDirs.unshift({ dir, mode: '755' });
        hostVolumes.push({ name: v.name, hostPath: { path: dir, type: 'Directory' } });
      } else if (v.configMap) {
        throw new Error(`${name}: configMap volumes are not converted (none in deployment/)`);
      } else {
        throw new Error(`${name}: volume ${v.name} has an unsupported type`);
      }
    }
    for (const claim of (w.spec.volumeClaimTemplates ?? []) as Obj[]) {
      const dir = path.join(volRoot, `pvc-${claim.metadata.name}`);
      plan.volumeDirs.push({ dir, mode: '777' });
      hostVolumes.push({ name: claim.metadata.name, hostPath: { path: dir, type: 'Directory' } });
    }
    spec.volumes = hostVolumes;

    const ports: Record<string, number> = {};
    const containers: PlannedPod['containers'] = [];
    for (const c of spec.containers as Obj[]) {
      for (const e of (c.env ?? []) as Obj[]) {
        const cm = e.valueFrom?.configMapKeyRef as Obj | undefined;
        if (cm) {
          const data = configMaps.get(cm.name as string);
          if (!data || !(cm.key in data)) throw new Error(`${name}/${c.name}: env ${e.name} names ConfigMap key ${cm.name}/${cm.key}, which does not exist`);
          delete e.valueFrom;
          e.value = String(data[cm.key]);
        }
        const sk = e.valueFrom?.secretKeyRef as Obj | undefined;
        if (sk) {
          const s = secrets.get(sk.name as string);
          if (!s || !(sk.key in (s.data ?? {})))
            throw new Error(`${name}/${c.name}: env ${e.name} names Secret key ${sk.name}/${sk.key}, which does not exist`);
          usedSecrets.add(sk.name as string);
        }
      }
      if (c.envFrom) throw new Error(`${name}/${c.name}: envFrom is not converted (none in deployment/)`);
      for (const p of (c.ports ?? []) as Obj[]) {
        const host = opts.portBase + ((p.containerPort as number) % 10000);
        const clash = hostPorts.get(host);
        if (clash) throw new Error(`${name}: host port ${host} already taken by ${clash}`);
        hostPorts.set(host, name);
        p.hostPort = host;
        p.hostIP = '127.0.0.1';
        ports[String(p.containerPort)] = host;
      }
      containers.push({
        name: c.name as string,
        podmanName: `${name}-${c.name}`,
        readiness: probeOf(c, c.readinessProbe as Obj),
        startup: probeOf(c, c.startupProbe as Obj),
        liveness: probeOf(c, c.livenessProbe as Obj),
      });
      delete c.readinessProbe;
      delete c.livenessProbe;
      delete c.startupProbe;
    }
    if (spec.initContainers) throw new Error(`${name}: initContainers are not converted (none in deployment/)`);

    spec.hostAliases = [...((spec.hostAliases as Obj[]) ?? []), ...hostAliases];
    const role = w.kind === 'Job' ? 'job' : 'service';
    spec.restartPolicy = role === 'job' ? (spec.restartPolicy ?? 'OnFailure') : 'Always';
    // Fields podman does not know (or would misread); their effect is either emulated above
    // (fsGroup on the secret files) or recorded as not proven.
    delete spec.enableServiceLinks;
    delete spec.automountServiceAccountToken;
    delete spec.serviceAccountName;

    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: tpl.metadata?.labels ?? {}, annotations: { 'io.udaconnect/converted-from': `${w.kind}/${name}` } },
      spec,
    };
    const file = path.join(opts.outDir, 'pods', `${String(i).padStart(2, '0')}-${name}.yaml`);
    files.set(file, stringify(pod));
    plan.pods.push({
      name,
      kind: w.kind as string,
      file,
      ip: ipOf.get(name)!,
      role,
      containers,
      terminationGracePeriodSeconds: (spec.terminationGracePeriodSeconds as number | undefined) ?? 30,
      backoffLimit: role === 'job' ? ((w.spec.backoffLimit as number | undefined) ?? 6) : undefined,
      ports,
    });
  });

  for (const s of usedSecrets) {
    // podman 4.3's kube play reads a podman secret as a JSON object of key → base64 value (the
    // Secret's data, unmarshalled into map[string][]byte), not as a Secret object.
    const file = path.join(opts.outDir, 'secrets', `${s}.json`);
    files.set(file, JSON.stringify(secrets.get(s)!.data ?? {}));
    plan.secrets.push({ name: s, file });
  }
  return { plan, files };
}

// ---------------------------------------------------------------- probes, run from the host
function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve(null);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(`tcp ${ip}:${port}: timeout`);
    });
    sock.once('error', (e) => resolve(`tcp ${ip}:${port}: ${e.message}`));
  });
}

function httpProbe(ip: string, p: Probe): Promise<string | null> {
  const mod = p.scheme === 'HTTPS' ? https : http;
  return new Promise((resolve) => {
    // As the kubelet: HTTPS without verifying the certificate; 200–399 is success.
    const req = mod.get(
      { host: ip, port: p.port, path: p.path, timeout: p.timeoutSeconds * 1000, rejectUnauthorized: false, headers: { 'User-Agent': 'kube-probe/1.31' } },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? null : `${p.scheme} ${ip}:${p.port}${p.path}: ${code}`);
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (e) => resolve(`${p.scheme} ${ip}:${p.port}${p.path}: ${e.message}`));
  });
}

function grpcProbe(ip: string, p: Probe): Promise<string | null> {
  // grpc.health.v1.Health/Check with the empty service name, as the kubelet's gRPC probe asks.
  const client = new grpc.Client(`${ip}:${p.port}`, grpc.credentials.createInsecure());
  const deadline = Date.now() + p.timeoutSeconds * 1000;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      () => Buffer.alloc(0),
      (b: Buffer) => b,
      {},
      { deadline },
      (err, res) => {
        client.close();
        if (err) return resolve(`grpc ${ip}:${p.port}: ${err.message}`);
        // HealthCheckResponse { status = 1 (SERVING) }: field 1, varint → bytes 08 01.
        resolve(res && res.length >= 2 && res[0] === 0x08 && res[1] === 0x01 ? null : `grpc ${ip}:${p.port}: not SERVING`);
      },
    );
  });
}

async function runProbe(pod: PlannedPod, containerIndex: number, p: Probe): Promise<string | null> {
  switch (p.kind) {
    case 'tcp':
      return tcpProbe(pod.ip, p.port!, p.timeoutSeconds * 1000);
    case 'http':
      return httpProbe(pod.ip, p);
    case 'grpc':
      return grpcProbe(pod.ip, p);
    case 'exec':
      try {
        execFileSync(PODMAN, ['exec', pod.containers[containerIndex]!.podmanName, ...p.command!], {
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: p.timeoutSeconds * 1000 + 5000,
        });
        return null;
      } catch (e) {
        return `exec ${p.command!.join(' ')}: ${(e as Error).message.split('\n')[0]}`;
      }
  }
}

/**
 * Deliberate breakage for `test-deploy.sh --self-test`: each case edits the rendered manifests as
 * a plausible mistake in deployment/ would, and names the stage of the run that must catch it.
 */
export const BREAKS: Record<string, { what: string; catchAt: string; apply: (objs: Obj[]) => void }> = {
  'env-name': {
    what: "person-api's DATABASE_URL renamed to DATABASE_ULR (a wrong env var name)",
    catchAt: '5 pods',
    apply: (objs) => {
      const env = workloadContainer(objs, 'person-api').env as Obj[];
      const e = env.find((x) => x.name === 'DATABASE_URL');
      if (!e) throw new Error('person-api has no DATABASE_URL');
      e.name = 'DATABASE_ULR';
    },
  },
  'image-target': {
    what: "location-ingest runs the location-writer image (a wrong --target in the image's name)",
    catchAt: '5 pods',
    apply: (objs) => {
      const c = workloadContainer(objs, 'location-ingest');
      c.image = (c.image as string).replace('/location-ingest:', '/location-writer:');
    },
  },
  privileged: {
    what: 'frontend runs privileged (refused by Pod Security restricted)',
    catchAt: '4 apiserver',
    apply: (objs) => {
      workloadContainer(objs, 'frontend').securityContext.privileged = true;
    },
  },
};

function workloadContainer(objs: Obj[], name: string): Obj {
  const w = objs.find((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind as string) && o.metadata.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return (w.spec.template.spec.containers as Obj[])[0]!;
}

async function main(argv: string[]) {
  const [cmd, ...rest] = argv;
  if (cmd === 'break') {
    // break <case> <rendered.yaml>: rewrites the file in place; break list: "case<TAB>stage<TAB>what".
    const [name, file] = rest;
    if (name === 'list') {
      for (const [k, v] of Object.entries(BREAKS)) process.stdout.write(`${k}\t${v.catchAt}\t${v.what}\n`);
      return;
    }
    const b = name ? BREAKS[name] : undefined;
    if (!b || !file) throw new Error(`usage: break <${Object.keys(BREAKS).join('|')}> <rendered.yaml> | break list`);
    const objs = parseRendered(fs.readFileSync(file, 'utf8'));
    b.apply(objs);
    fs.writeFileSync(file, objs.map((o) => stringify(o)).join('---\n'));
    process.stderr.write(`podman-kube: broke the rendered manifests on purpose: ${b.what}\n`);
    return;
  }
  if (cmd === 'convert') {
    const [rendered, outDir] = rest;
    if (!rendered || !outDir) throw new Error('usage: convert <rendered.yaml> <out-dir> [--subnet A.B.C] [--port-base N]');
    const flag = (n: string, d: string) => {
      const i = rest.indexOf(n);
      return i >= 0 && rest[i + 1] ? rest[i + 1]! : d;
    };
    const out = path.resolve(outDir);
    const { plan, files } = convert(parseRendered(fs.readFileSync(rendered, 'utf8')), {
      subnet: flag('--subnet', '10.213.77'),
      portBase: Number(flag('--port-base', '20000')),
      outDir: out,
    });
    fs.rmSync(out, { recursive: true, force: true });
    for (const [file, content] of files) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, content, { encoding: 'binary', mode: 0o600 });
    }
    for (const d of plan.volumeDirs) {
      if (!fs.existsSync(d.dir)) fs.mkdirSync(d.dir, { recursive: true });
      fs.chmodSync(d.dir, parseInt(d.mode, 8));
      if (d.uid !== undefined) fs.chownSync(d.dir, d.uid, d.gid ?? 0);
    }
    fs.writeFileSync(path.join(out, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
    process.stdout.write(`${plan.pods.map((p) => `${p.name} ${p.ip} ${p.role} ${p.file}`).join('\n')}\n`);
    return;
  }
  if (cmd === 'probe') {
    // probe <plan.json> <pod> [readiness|startup] → exit 0 when every container passes once.
    const [planFile, podName, which = 'readiness'] = rest;
    const plan = JSON.parse(fs.readFileSync(planFile!, 'utf8')) as Plan;
    const pod = plan.pods.find((p) => p.name === podName);
    if (!pod) throw new Error(`no pod ${podName} in ${planFile}`);
    const failures: string[] = [];
    for (const [i, c] of pod.containers.entries()) {
      const p = which === 'startup' ? c.startup : which === 'liveness' ? c.liveness : c.readiness;
      if (!p) continue;
      const err = await runProbe(pod, i, p);
      if (err) failures.push(`${c.name}: ${err}`);
    }
    if (failures.length) {
      process.stderr.write(`${failures.join('\n')}\n`);
      process.exit(1);
    }
    return;
  }
  if (cmd === 'e2e') {
    const { runEndToEnd } = await import('./e2e');
    await runEndToEnd(rest);
    return;
  }
  throw new Error('usage: podman-kube.ts convert|probe|break|e2e …');
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`podman-kube: ${e.message}\n`);
    process.exit(2);
  });
}
