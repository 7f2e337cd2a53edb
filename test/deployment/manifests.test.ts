/**
 * Static checks of deployment/: every manifest parses and validates against the Kubernetes
 * schemas (kubernetes-models, offline), the kustomization lists every file and generates the
 * Secrets from gitignored files, and `kubectl kustomize deployment/` renders.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  DEPLOYMENT_DIR,
  K8sObject,
  ROOT,
  SECRETS_MARKER,
  loadManifests,
  manifestFiles,
  parseEnvFile,
  parseYamlFile,
  validateObject as validate,
} from './manifests';

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
    const bad = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { selector: {}, template: { spec: { containers: [{ name: 1 }] } } },
    };
    expect(() => validate(bad as unknown as K8sObject)).toThrow(/name/);
  });

  it('kustomization.yaml lists every manifest in deployment/ and nothing else', () => {
    expect(kustomization.namespace).toBe('udaconnect');
    const resources = kustomization.resources as string[];
    // The marker of scripts/k3s-secrets.sh comes first, so that a fresh clone fails before anything else.
    expect(resources[0]).toBe(SECRETS_MARKER);
    expect(resources.slice(1).sort()).toEqual(manifestFiles());
    const ignored = spawnSync('git', ['check-ignore', '-q', `deployment/${SECRETS_MARKER}`], { cwd: ROOT });
    expect(ignored.status).toBe(0);
  });

  it('credentials, token keys and certificates come from secretGenerators over gitignored files', () => {
    const gens = kustomization.secretGenerator as Array<{
      name: string;
      type?: string;
      envs?: string[];
      files?: string[];
      literals?: string[];
      options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
    }>;
    expect(gens.map((g) => g.name)).toEqual(['udaconnect-db', 'udaconnect-auth', 'udaconnect-tls']);
    const [db, auth, tls] = gens as [(typeof gens)[0], (typeof gens)[0], (typeof gens)[0]];
    expect(db.envs).toEqual(['secrets.env']);
    expect(db.files).toBeUndefined();
    // File names are the keys: scripts/k3s-secrets.sh writes these files (test/deployment/scripts.test.ts).
    expect([...auth.files!].sort()).toEqual(['auth/jwks.json', 'auth/signing-key.json']);
    expect([...tls.files!].sort()).toEqual(['tls/ca.crt', 'tls/tls.crt', 'tls/tls.key']);
    expect(tls.type).toBe('kubernetes.io/tls');
    for (const g of gens) {
      expect({ g: g.name, literals: g.literals }).toEqual({ g: g.name, literals: undefined });
      // The hash suffix makes new content a new Secret name, which rolls the pods that use it.
      expect({ g: g.name, noHash: g.options?.disableNameSuffixHash ?? false }).toEqual({ g: g.name, noHash: false });
      // scripts/k3s-token.sh and k3s-deploy.sh find the generated Secrets by these labels.
      expect(g.options?.labels?.['app.kubernetes.io/part-of']).toBe('udaconnect');
      expect(g.options?.labels?.['app.kubernetes.io/component']).toBeDefined();
    }
    expect(auth.options!.labels!['app.kubernetes.io/component']).toBe('token-keys');
    expect(kustomization.generatorOptions?.disableNameSuffixHash ?? false).toBe(false);
    // Every source file is gitignored (and deployment/ is outside the image build context).
    for (const file of ['secrets.env', ...auth.files!, ...tls.files!, 'tls/ca.key']) {
      const ignored = spawnSync('git', ['check-ignore', '-q', `deployment/${file}`], { cwd: ROOT });
      expect({ file, ignored: ignored.status }).toEqual({ file, ignored: 0 });
    }
    expect(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')).toContain('deployment');
    // The committed example has placeholders only.
    const example = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));
    expect(Object.keys(example)).toEqual(expect.arrayContaining(['DATABASE_URL', 'POSTGRES_PASSWORD']));
    for (const [k, v] of Object.entries(example)) {
      if (k.endsWith('PASSWORD')) expect({ k, v }).toEqual({ k, v: expect.stringMatching(/^<.*>$/) });
      else expect({ k, v }).toEqual({ k, v: expect.stringMatching(/^postgresql:\/\/\w+:<[^>]*>@/) });
    }
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  const haveKubectl = kubectl.status === 0;
  const itKubectl = haveKubectl ? it : it.skip;
  if (!haveKubectl) {
    console.warn('kubectl not found: skipping the `kubectl kustomize deployment/` render check');
  }

  itKubectl('on a fresh clone (no generated secrets) kustomize stops with an error naming scripts/k3s-secrets.sh', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-fresh-clone-'));
    try {
      for (const f of [...manifestFiles(), 'kustomization.yaml', 'secrets.env.example']) fs.copyFileSync(path.join(DEPLOYMENT_DIR, f), path.join(dir, f));
      const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`accumulating resources from '${SECRETS_MARKER}'`);
      expect(r.stderr).toMatch(/k3s-secrets\.sh/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  itKubectl('`kubectl kustomize deployment/` renders, namespaced, with the generated Secrets wired in', () => {
    // A copy of deployment/ with placeholder secret files (the real ones: scripts.test.ts), so a
    // developer's own deployment/secrets.env, auth/ and tls/ are neither needed nor touched.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-kustomize-'));
    let out: string;
    try {
      for (const f of [...manifestFiles(), 'kustomization.yaml']) fs.copyFileSync(path.join(DEPLOYMENT_DIR, f), path.join(dir, f));
      fs.copyFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), path.join(dir, 'secrets.env'));
      fs.writeFileSync(path.join(dir, SECRETS_MARKER), '# placeholder\n');
      for (const f of ['auth/signing-key.json', 'auth/jwks.json', 'tls/ca.crt', 'tls/tls.crt', 'tls/tls.key']) {
        fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), `placeholder ${f}\n`);
      }
      out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const rendered = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    const secrets = rendered.filter((o) => o.kind === 'Secret');
    expect(secrets.map((x) => x.metadata.name.replace(/-[a-z0-9]+$/, '')).sort()).toEqual(['udaconnect-auth', 'udaconnect-db', 'udaconnect-tls']);
    const byName = new Map(secrets.map((x) => [x.metadata.name, x]));
    for (const x of secrets) expect(x.metadata.name).toMatch(/^udaconnect-(db|auth|tls)-[a-z0-9]{10}$/);
    const tls = secrets.find((x) => x.metadata.name.startsWith('udaconnect-tls-'))!;
    expect(tls.type).toBe('kubernetes.io/tls');
    expect(Object.keys(tls.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    for (const o of rendered) {
      if (o.kind !== 'Namespace')
        expect({ obj: `${o.kind}/${o.metadata.name}`, ns: o.metadata.namespace }).toEqual({ obj: `${o.kind}/${o.metadata.name}`, ns: 'udaconnect' });
      if (o.kind !== 'Secret') expect(() => validate(o)).not.toThrow();
    }
    // Every Secret reference (env secretKeyRef, Secret volume) names a rendered, hash-suffixed
    // Secret and a key it holds.
    let refs = 0;
    for (const o of rendered.filter((x) => ['Deployment', 'StatefulSet', 'Job'].includes(x.kind))) {
      const spec = o.spec.template.spec;
      for (const c of spec.containers) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          refs++;
          expect({ ref, data: ref.key in (byName.get(ref.name)?.data ?? {}) }).toEqual({ ref, data: true });
        }
      }
      for (const v of spec.volumes ?? []) {
        if (!v.secret) continue;
        refs++;
        for (const item of v.secret.items)
          expect({ v: v.name, item: item.key in (byName.get(v.secret.secretName)?.data ?? {}) }).toEqual({ v: v.name, item: true });
      }
    }
    expect(refs).toBeGreaterThan(10);
    expect(out).not.toMatch(/name: udaconnect-(db|auth|tls)\s*$/m);
    // Same set of objects as the sources, plus the three Secrets.
    expect(rendered.length).toBe(loadManifests().length + 3);
  });
});
