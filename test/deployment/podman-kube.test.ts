/**
 * scripts/deploy/podman-kube.ts, the converter `npm run test:deploy` runs the rendered manifests
 * through: statically, on `kubectl kustomize deployment/` with placeholder secrets. The pods it
 * writes must keep what the real run is meant to exercise (images, users, read-only root
 * filesystems, dropped capabilities, resources, env), and change only what podman lacks.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { BREAKS, convert, parseRendered } from '../../scripts/deploy/podman-kube';
import { DEPLOYMENT_DIR, SECRETS_MARKER, manifestFiles } from './manifests';

const haveKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const describeKubectl = haveKubectl ? describe : describe.skip;

type Obj = Record<string, any>;

function renderWithPlaceholders(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-podman-kube-'));
  try {
    for (const f of [...manifestFiles(), 'kustomization.yaml']) fs.copyFileSync(path.join(DEPLOYMENT_DIR, f), path.join(dir, f));
    fs.copyFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), path.join(dir, 'secrets.env'));
    fs.writeFileSync(path.join(dir, SECRETS_MARKER), '# placeholder\n');
    for (const f of ['auth/signing-key.json', 'auth/jwks.json', 'tls/ca.crt', 'tls/tls.crt', 'tls/tls.key']) {
      fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), `placeholder ${f}\n`);
    }
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describeKubectl('scripts/deploy/podman-kube.ts convert', () => {
  const objs = haveKubectl ? parseRendered(renderWithPlaceholders()) : [];
  const out = '/nonexistent/podman';
  const { plan, files } = haveKubectl ? convert(objs, { subnet: '10.213.77', portBase: 20000, outDir: out }) : ({} as ReturnType<typeof convert>);
  const workloads = objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind as string));
  const podOf = (name: string) => parse(files.get(plan.pods.find((p) => p.name === name)!.file)!) as Obj;

  it('turns every workload into one Pod with the same containers, images, users, limits and security', () => {
    expect(plan.pods.map((p) => p.name).sort()).toEqual(workloads.map((w) => w.metadata.name as string).sort());
    for (const w of workloads) {
      const pod = podOf(w.metadata.name as string);
      expect(pod.kind).toBe('Pod');
      const src = w.spec.template.spec as Obj;
      expect(pod.spec.securityContext).toEqual(src.securityContext);
      expect(pod.spec.terminationGracePeriodSeconds).toEqual(src.terminationGracePeriodSeconds);
      for (const [i, c] of (src.containers as Obj[]).entries()) {
        const got = pod.spec.containers[i] as Obj;
        for (const k of ['name', 'image', 'command', 'args', 'securityContext', 'resources', 'volumeMounts'])
          expect({ w: w.metadata.name, k, v: got[k] }).toEqual({ w: w.metadata.name, k, v: c[k] });
        expect(got.env.map((e: Obj) => e.name)).toEqual(c.env.map((e: Obj) => e.name));
        // Probes move to the plan (run from the host), with named ports resolved.
        expect(got.readinessProbe ?? got.livenessProbe ?? got.startupProbe).toBeUndefined();
        if (c.readinessProbe) expect(plan.pods.find((p) => p.name === w.metadata.name)!.containers[i]!.readiness?.port ?? 'exec').not.toBe(0);
      }
    }
    expect(plan.pods.find((p) => p.name === 'db-migrate')).toMatchObject({ role: 'job', kind: 'Job' });
    expect(podOf('db-migrate').spec.restartPolicy).toBe('OnFailure');
    expect(podOf('person-api').spec.restartPolicy).toBe('Always');
  });

  it('resolves ConfigMap keys, leaves Secret keys to podman secrets, mounts Secret files as the kubelet would', () => {
    const env = podOf('person-api').spec.containers[0].env as Obj[];
    expect(env.find((e) => e.name === 'KAFKA_BROKERS')).toEqual({ name: 'KAFKA_BROKERS', value: 'kafka.udaconnect.svc.cluster.local:9092' });
    expect(env.find((e) => e.name === 'DATABASE_URL')!.valueFrom.secretKeyRef.name).toMatch(/^udaconnect-db-/);
    expect(plan.secrets.map((s) => s.name)).toEqual([expect.stringMatching(/^udaconnect-db-/)]);
    const authFile = path.join(out, 'volumes', 'person-api', 'auth', 'signing-key.json');
    expect(files.get(authFile)).toBe('placeholder auth/signing-key.json\n');
    expect(plan.volumeDirs.find((d) => d.dir === authFile)).toEqual({ dir: authFile, mode: '440', uid: 0, gid: 10001 });
    // location-ingest never sees the signing key.
    expect([...files.keys()].filter((f) => f.includes('/location-ingest/auth/'))).toEqual([path.join(out, 'volumes', 'location-ingest', 'auth', 'jwks.json')]);
  });

  it('gives every Service name a static IP in every pod, and publishes ports only on 127.0.0.1 away from the real ones', () => {
    for (const p of plan.pods) {
      const aliases = podOf(p.name).spec.hostAliases as { ip: string; hostnames: string[] }[];
      for (const s of plan.services) expect(aliases).toContainEqual({ ip: s.ip, hostnames: s.hostnames });
      for (const c of podOf(p.name).spec.containers as Obj[])
        for (const port of (c.ports ?? []) as Obj[]) {
          expect(port.hostIP).toBe('127.0.0.1');
          expect([5432, 9092, 9093, 30000, 30001, 30002, 30003, 30004, 30005]).not.toContain(port.hostPort);
        }
    }
    expect(plan.services.find((s) => s.name === 'postgis')!.hostnames).toContain('postgis.udaconnect.svc.cluster.local');
    expect(new Set(plan.pods.map((p) => p.ip)).size).toBe(plan.pods.length);
  });

  it('each deliberate break of --self-test applies to the rendered manifests', () => {
    for (const [name, b] of Object.entries(BREAKS)) {
      const copy = structuredClone(objs);
      b.apply(copy);
      expect({ name, changed: JSON.stringify(copy) !== JSON.stringify(objs) }).toEqual({ name, changed: true });
    }
  });
});
