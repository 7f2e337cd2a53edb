/**
 * Static checks of deployment/: every manifest parses and validates against the Kubernetes
 * schemas (kubernetes-models, offline), the kustomization lists every file, and
 * `kubectl kustomize deployment/` renders.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEPLOYMENT_DIR, K8sObject, ROOT, loadManifests, manifestFiles, parseEnvFile, parseYamlFile } from './manifests';

/** The kubernetes-models class for an object, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
function validate(obj: K8sObject): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${obj.apiVersion}/${obj.kind}`) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

const kustomization = parseYamlFile('kustomization.yaml')[0]!;

describe('deployment manifests', () => {
  const docs = loadManifests();

  it('has one file per workload and every file parses', () => {
    expect(manifestFiles().length).toBeGreaterThanOrEqual(10);
    for (const { file, obj } of docs) {
      expect({ file, apiVersion: typeof obj.apiVersion, kind: typeof obj.kind, name: typeof obj.metadata?.name }).toEqual({
        file,
        apiVersion: 'string',
        kind: 'string',
        name: 'string',
      });
    }
    // One workload (Deployment/StatefulSet/Job) per file.
    for (const file of manifestFiles()) {
      const kinds = docs.filter((d) => d.file === file && ['Deployment', 'StatefulSet', 'Job'].includes(d.obj.kind));
      expect({ file, workloads: kinds.length <= 1 }).toEqual({ file, workloads: true });
    }
  });

  it.each(docs.map((d) => [`${d.file}: ${d.obj.kind}/${d.obj.metadata.name}`, d.obj] as const))(
    'validates against the Kubernetes schema: %s',
    (_label, obj) => {
      expect(() => validate(obj)).not.toThrow();
    },
  );

  it('the validator rejects a malformed object (so the checks above mean something)', () => {
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 1 }] } } } };
    expect(() => validate(bad as unknown as K8sObject)).toThrow(/name/);
  });

  it('kustomization.yaml lists every manifest in deployment/ and nothing else', () => {
    expect(kustomization.namespace).toBe('udaconnect');
    expect([...(kustomization.resources as string[])].sort()).toEqual(manifestFiles());
  });

  it('credentials come from a secretGenerator over the gitignored secrets.env', () => {
    const gens = kustomization.secretGenerator as Array<{ name: string; envs?: string[]; literals?: string[] }>;
    expect(gens).toHaveLength(1);
    expect(gens[0]!.envs).toEqual(['secrets.env']);
    expect(gens[0]!.literals).toBeUndefined();
    const ignored = spawnSync('git', ['check-ignore', '-q', 'deployment/secrets.env'], { cwd: ROOT });
    expect(ignored.status).toBe(0);
    // The committed example has placeholders only.
    const example = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));
    expect(Object.keys(example).sort()).toEqual(['DATABASE_URL', 'POSTGRES_PASSWORD']);
    expect(example.POSTGRES_PASSWORD).toMatch(/^<.*>$/);
    expect(example.DATABASE_URL).toMatch(/:<[^>]*>@/);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  const haveKubectl = kubectl.status === 0;
  const itKubectl = haveKubectl ? it : it.skip;
  if (!haveKubectl) {
    // eslint-disable-next-line no-console
    console.warn('kubectl not found: skipping the `kubectl kustomize deployment/` render check');
  }

  itKubectl('`kubectl kustomize deployment/` renders, namespaced, with the generated Secret wired in', () => {
    const secretsEnv = path.join(DEPLOYMENT_DIR, 'secrets.env');
    const created = !fs.existsSync(secretsEnv);
    if (created) fs.copyFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), secretsEnv);
    let out: string;
    try {
      out = execFileSync('kubectl', ['kustomize', DEPLOYMENT_DIR], { encoding: 'utf8' });
    } finally {
      if (created) fs.rmSync(secretsEnv, { force: true });
    }
    const rendered = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    const secrets = rendered.filter((o) => o.kind === 'Secret');
    expect(secrets).toHaveLength(1);
    const secretName = secrets[0]!.metadata.name;
    expect(secretName).toMatch(/^udaconnect-db-[a-z0-9]+$/);
    for (const o of rendered) {
      if (o.kind !== 'Namespace') expect({ obj: `${o.kind}/${o.metadata.name}`, ns: o.metadata.namespace }).toEqual({ obj: `${o.kind}/${o.metadata.name}`, ns: 'udaconnect' });
      if (o.kind !== 'Secret') expect(() => validate(o)).not.toThrow();
    }
    // Every secret reference points at the generated (hash-suffixed) name.
    const refs = [...out.matchAll(/name: (udaconnect-db[\w-]*)/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(4);
    expect(new Set(refs)).toEqual(new Set([secretName]));
    // Same set of objects as the sources, plus the Secret.
    expect(rendered.length).toBe(loadManifests().length + 1);
  });
});
