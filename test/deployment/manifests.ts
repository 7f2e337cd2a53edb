/** Loads deployment/*.yaml and the Dockerfile for the static deployment tests. */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const DEPLOYMENT_DIR = path.join(ROOT, 'deployment');

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
