/** Loads deployment/*.yaml and the Dockerfile for the static deployment tests. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const DEPLOYMENT_DIR = path.join(ROOT, 'deployment');
/**
 * The production overlay of deployment/. Beside deployment/, not inside it: kustomize refuses a
 * base directory that contains its overlay ("cycle detected").
 */
const PRODUCTION_OVERLAY_DIR = path.join(ROOT, 'overlays/production');

// Loose shape of a Kubernetes object: the tests walk it by hand.
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

export interface ManifestDoc {
  file: string;
  obj: K8sObject;
}

/**
 * Written by scripts/k3s-secrets.sh (gitignored, no objects) and listed first in kustomization.yaml:
 * on a fresh clone kustomize's "no such file" error names the script to run first.
 */
export const SECRETS_MARKER = 'generated-by-scripts-k3s-secrets.sh.yaml';

/** deployment/ files that kustomization.yaml must list (everything but itself and the secrets files). */
export function manifestFiles(): string[] {
  return fs
    .readdirSync(DEPLOYMENT_DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && f !== SECRETS_MARKER)
    .sort();
}

export function parseYamlFile(file: string): K8sObject[] {
  const text = fs.readFileSync(path.join(DEPLOYMENT_DIR, file), 'utf8');
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) out.push(obj);
  }
  return out;
}

export function loadManifests(): ManifestDoc[] {
  return manifestFiles().flatMap((file) => parseYamlFile(file).map((obj) => ({ file, obj })));
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job'];

export function workloads(docs: ManifestDoc[]): ManifestDoc[] {
  return docs.filter((d) => WORKLOAD_KINDS.includes(d.obj.kind));
}

export function podSpec(obj: K8sObject) {
  return obj.spec.template.spec;
}

export function byKind(docs: ManifestDoc[], kind: string, name?: string): K8sObject[] {
  return docs.filter((d) => d.obj.kind === kind && (name === undefined || d.obj.metadata.name === name)).map((d) => d.obj);
}

/** key=value lines of a .env file (comments and blanks skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export interface DockerStage {
  name: string;
  from: string;
  user?: string;
  cmd?: string;
  entrypoint?: string;
}

/**
 * A small Dockerfile reader: FROM … AS name, USER, CMD and ENTRYPOINT per stage. A stage inherits
 * USER/CMD/ENTRYPOINT from its base when the base is another stage of this file.
 */
export function parseDockerfile(text: string): Map<string, DockerStage> {
  const stages = new Map<string, DockerStage>();
  // Join continuation lines, drop comments.
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let current: DockerStage | undefined;
  let n = 0;
  for (const line of lines) {
    const [instr = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instr.toUpperCase()) {
      case 'FROM': {
        const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
        if (!m) throw new Error(`Dockerfile: cannot parse "${line}"`);
        const from = m[1]!;
        const name = (m[2] ?? String(n)).toLowerCase();
        const base = stages.get(from.toLowerCase());
        current = { name, from, user: base?.user, cmd: base?.cmd, entrypoint: base?.entrypoint };
        stages.set(name, current);
        n++;
        break;
      }
      case 'USER':
        if (current) current.user = args;
        break;
      case 'CMD':
        if (current) current.cmd = args;
        break;
      case 'ENTRYPOINT':
        if (current) current.entrypoint = args;
        break;
    }
  }
  return stages;
}

/** True when a CMD/ENTRYPOINT argument is the exec form: a JSON array of strings. */
export function isExecForm(arg: string | undefined): boolean {
  if (!arg) return false;
  try {
    const v: unknown = JSON.parse(arg);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** The kubernetes-models class for an object, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment; throws if invalid. */
export function validateObject(obj: K8sObject): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`kubernetes-models/${obj.apiVersion}/${obj.kind}`) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

/** The generator files of deployment/kustomization.yaml, as placeholders (the real ones: scripts.test.ts). */
const PLACEHOLDER_SECRET_FILES = ['auth/signing-key.json', 'auth/jwks.json', 'tls/ca.crt', 'tls/tls.crt', 'tls/tls.key'];

/**
 * `kubectl kustomize <target>` on a copy of deployment/ and overlays/production/ (same layout, so
 * the overlay's ../../deployment resolves to the copy): 'base' renders deployment/, 'production'
 * the overlay. With `secrets`, the copy first gets what scripts/k3s-secrets.sh writes, as
 * placeholders (a developer's own deployment/secrets.env, auth/ and tls/ are neither needed nor
 * touched); without, it is a fresh clone.
 */
export function renderKustomize(target: 'base' | 'production', opts: { secrets: boolean }): { status: number | null; stdout: string; stderr: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-kustomize-'));
  try {
    const dep = path.join(root, 'deployment');
    const overlay = path.join(root, path.relative(ROOT, PRODUCTION_OVERLAY_DIR));
    fs.mkdirSync(dep);
    fs.mkdirSync(overlay, { recursive: true });
    for (const f of [...manifestFiles(), 'kustomization.yaml', 'secrets.env.example']) fs.copyFileSync(path.join(DEPLOYMENT_DIR, f), path.join(dep, f));
    for (const f of fs.readdirSync(PRODUCTION_OVERLAY_DIR)) fs.copyFileSync(path.join(PRODUCTION_OVERLAY_DIR, f), path.join(overlay, f));
    if (opts.secrets) {
      fs.copyFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), path.join(dep, 'secrets.env'));
      fs.writeFileSync(path.join(dep, SECRETS_MARKER), '# placeholder\n');
      for (const f of PLACEHOLDER_SECRET_FILES) {
        fs.mkdirSync(path.join(dep, path.dirname(f)), { recursive: true });
        fs.writeFileSync(path.join(dep, f), `placeholder ${f}\n`);
      }
    }
    const r = spawnSync('kubectl', ['kustomize', target === 'base' ? dep : overlay], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The objects of a rendered (multi-document) YAML stream. */
export function parseRenderedYaml(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Volume types Pod Security "restricted" allows (v1.31). */
const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

/**
 * What a pod template breaks of Pod Security "restricted" (and of the baseline it includes), as
 * messages; empty when it complies. The settings deployment/ uses, checked as the admission
 * plugin does: host namespaces, privileged, capabilities, hostPath and other volume types, host
 * ports, privilege escalation, non-root, seccomp, /proc mount, sysctls.
 */
export function restrictedViolations(template: { spec: Record<string, any> }): string[] {
  const spec = template.spec;
  const pod = spec.securityContext ?? {};
  const out: string[] = [];
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[k]) out.push(`${k}: true`);
  for (const v of spec.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUME_TYPES.includes(type)) out.push(`volume ${v.name}: type ${type}`);
  }
  if (pod.runAsUser === 0) out.push('pod runAsUser 0');
  if ((pod.sysctls ?? []).length > 0) out.push('pod sysctls');
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged) out.push(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation not false`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot not true`);
    if ((sc.runAsUser ?? pod.runAsUser) === 0) out.push(`${where}: runAsUser 0`);
    const seccomp = (sc.seccompProfile ?? pod.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${where}: seccompProfile ${seccomp}`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where}: capabilities not dropping ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') out.push(`${where}: adds capability ${cap}`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${where}: procMount ${sc.procMount}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${where}: hostPort ${p.hostPort}`);
  }
  return out;
}
