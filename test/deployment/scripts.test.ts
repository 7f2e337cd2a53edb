/**
 * The K3s secret scripts, run for real against a copy of deployment/ (no cluster needed):
 * scripts/k3s-secrets.sh writes the files the secretGenerators read (completing an older
 * secrets.env, keeping ct_admin's password), is idempotent, and `--rotate-keys` changes the
 * token-key Secret's name — and so the pod templates that mount it — and nothing else;
 * scripts/k3s-token.sh signs an organizer token with the key it reads through kubectl (a stub here).
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { parseAllDocuments } from 'yaml';
import { SERVICE_ROLES } from '../../db/roles';
import { DEPLOYMENT_DIR, K8sObject, ROOT, manifestFiles, parseEnvFile, parseYamlFile } from './manifests';

const SECRETS_SCRIPT = path.join(ROOT, 'scripts/k3s-secrets.sh');
const TOKEN_SCRIPT = path.join(ROOT, 'scripts/k3s-token.sh');
const example = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));
const kustomization = parseYamlFile('kustomization.yaml')[0]!;
const configMap = parseYamlFile('configmap.yaml')[0]!.data as Record<string, string>;
const haveKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const itKubectl = haveKubectl ? it : it.skip;

const LEGACY_PASSWORD = '0123456789abcdef0123456789abcdef0123456789abcdef';
const LEGACY = `POSTGRES_PASSWORD=${LEGACY_PASSWORD}
DATABASE_URL=postgresql://ct_admin:${LEGACY_PASSWORD}@postgis.udaconnect.svc.cluster.local:5432/geoconnections
`;

let dir: string;

function runSecrets(...args: string[]) {
  const r = spawnSync('bash', [SECRETS_SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, K3S_DEPLOYMENT_DIR: dir } });
  if (r.status !== 0) throw new Error(`k3s-secrets.sh ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r;
}

const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const mode = (f: string) => fs.statSync(path.join(dir, f)).mode & 0o777;
const secretsEnv = () => parseEnvFile(read('secrets.env'));
/** Every file the generators read, with its content. */
function generatorSources(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const g of kustomization.secretGenerator as Array<{ envs?: string[]; files?: string[] }>) {
    for (const f of [...(g.envs ?? []), ...(g.files ?? [])]) out[f] = read(f);
  }
  return out;
}

function render(): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject);
}
const secretNamed = (objs: K8sObject[], prefix: string) => objs.find((o) => o.kind === 'Secret' && o.metadata.name.startsWith(`${prefix}-`))!;
const podTemplates = (objs: K8sObject[]) =>
  new Map(objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind)).map((o) => [o.metadata.name, JSON.stringify(o.spec.template)]));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-k3s-secrets-'));
  for (const f of [...manifestFiles(), 'kustomization.yaml']) fs.copyFileSync(path.join(DEPLOYMENT_DIR, f), path.join(dir, f));
  // A secrets.env as the script wrote it before the per-service roles.
  fs.writeFileSync(path.join(dir, 'secrets.env'), LEGACY, { mode: 0o600 });
  runSecrets();
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('scripts/k3s-secrets.sh', () => {
  it('completes an older secrets.env: ct_admin’s password kept, one role and password per service', () => {
    const env = secretsEnv();
    expect(Object.keys(env).sort()).toEqual(Object.keys(example).sort());
    expect(env.POSTGRES_PASSWORD).toBe(LEGACY_PASSWORD);
    expect(env.DATABASE_URL).toBe(`postgresql://ct_admin:${LEGACY_PASSWORD}@postgis.udaconnect.svc.cluster.local:5432/geoconnections`);
    const passwords = new Set<string>();
    for (const r of SERVICE_ROLES) {
      const pw = env[r.passwordEnv]!;
      expect({ k: r.passwordEnv, pw }).toEqual({ k: r.passwordEnv, pw: expect.stringMatching(/^[0-9a-f]{48}$/) });
      passwords.add(pw);
      const url = new URL(env[r.urlEnv]!);
      const admin = new URL(env.DATABASE_URL!);
      expect({ k: r.urlEnv, user: url.username, password: url.password, host: url.host, db: url.pathname }).toEqual({
        k: r.urlEnv,
        user: r.role,
        password: pw,
        host: admin.host,
        db: admin.pathname,
      });
    }
    expect(passwords.size).toBe(SERVICE_ROLES.length);
    expect(passwords.has(LEGACY_PASSWORD)).toBe(false);
    expect(mode('secrets.env')).toBe(0o600);
  });

  it('writes every file the secretGenerators read: token keys and certificates', () => {
    expect(Object.keys(generatorSources()).sort()).toEqual([
      'auth/jwks.json',
      'auth/signing-key.json',
      'secrets.env',
      'tls/ca.crt',
      'tls/tls.crt',
      'tls/tls.key',
    ]);
    const signing = JSON.parse(read('auth/signing-key.json')) as { kid: string; d?: string; kty: string };
    const jwks = JSON.parse(read('auth/jwks.json')) as { keys: Array<{ kid: string; d?: string }> };
    expect(signing.d).toBeDefined();
    expect(jwks.keys.map((k) => k.kid)).toEqual([signing.kid]);
    for (const k of jwks.keys) expect(k.d).toBeUndefined();
    expect(mode('auth/signing-key.json')).toBe(0o600);
    expect(mode('tls/tls.key')).toBe(0o600);
    expect(mode('tls/ca.key')).toBe(0o600);
  });

  it('the certificate is signed by ca.crt, matches tls.key and covers every name person-api and location-ingest are reached by', () => {
    const ca = new X509Certificate(read('tls/ca.crt'));
    const cert = new X509Certificate(read('tls/tls.crt'));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey(createPrivateKey(read('tls/tls.key')))).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 30 * 86_400_000);
    // The frontend's proxy target, the Services' names, and the host through the forwarded NodePorts.
    const names = [new URL(configMap.PERSON_API_URL!).hostname, 'person-api', 'location-ingest', 'location-ingest.udaconnect.svc.cluster.local', 'localhost'];
    for (const n of names) expect({ n, covered: cert.checkHost(n) }).toEqual({ n, covered: n });
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.com')).toBeUndefined();
  });

  it('runs again without changing anything', () => {
    const before = generatorSources();
    runSecrets();
    expect(generatorSources()).toEqual(before);
  }, 60_000);

  itKubectl('the rendered Secrets hold exactly these files', () => {
    const objs = render();
    const decode = (s: K8sObject) =>
      Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    expect(decode(secretNamed(objs, 'udaconnect-db'))).toEqual(secretsEnv());
    expect(decode(secretNamed(objs, 'udaconnect-auth'))).toEqual({ 'signing-key.json': read('auth/signing-key.json'), 'jwks.json': read('auth/jwks.json') });
    expect(decode(secretNamed(objs, 'udaconnect-tls'))).toEqual({
      'ca.crt': read('tls/ca.crt'),
      'tls.crt': read('tls/tls.crt'),
      'tls.key': read('tls/tls.key'),
    });
    // The CA's private key stays on the operator's machine.
    expect(JSON.stringify(objs)).not.toContain(Buffer.from(read('tls/ca.key')).toString('base64'));
  });

  it('--rotate-keys: a new signing key, the previous public key still verifies; nothing else changes', () => {
    const before = generatorSources();
    const rendered = haveKubectl ? render() : [];
    const oldKid = (JSON.parse(before['auth/signing-key.json']!) as { kid: string }).kid;
    runSecrets('--rotate-keys');
    const after = generatorSources();
    const newKid = (JSON.parse(after['auth/signing-key.json']!) as { kid: string }).kid;
    expect(newKid).not.toBe(oldKid);
    expect((JSON.parse(after['auth/jwks.json']!) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort()).toEqual([newKid, oldKid].sort());
    for (const f of ['secrets.env', 'tls/ca.crt', 'tls/tls.crt', 'tls/tls.key']) expect({ f, same: after[f] === before[f] }).toEqual({ f, same: true });
    expect(mode('auth/signing-key.json')).toBe(0o600);

    if (!haveKubectl) return;
    // kustomize names the Secret after its content: a new udaconnect-auth name, so the pod
    // templates that mount it change and those Deployments roll; the others stay as they are.
    const next = render();
    expect(secretNamed(next, 'udaconnect-auth').metadata.name).not.toBe(secretNamed(rendered, 'udaconnect-auth').metadata.name);
    for (const s of ['udaconnect-db', 'udaconnect-tls']) expect(secretNamed(next, s).metadata.name).toBe(secretNamed(rendered, s).metadata.name);
    const a = podTemplates(rendered);
    const b = podTemplates(next);
    const changed = [...a.keys()].filter((w) => a.get(w) !== b.get(w)).sort();
    expect(changed).toEqual(['connection-service', 'location-ingest', 'person-api']);
  }, 60_000);

  it('--new-db-passwords: new service-role passwords, ct_admin’s kept', () => {
    const before = secretsEnv();
    runSecrets('--new-db-passwords');
    const after = secretsEnv();
    expect(after.POSTGRES_PASSWORD).toBe(before.POSTGRES_PASSWORD);
    expect(after.DATABASE_URL).toBe(before.DATABASE_URL);
    for (const r of SERVICE_ROLES) {
      expect(after[r.passwordEnv]).not.toBe(before[r.passwordEnv]);
      expect(new URL(after[r.urlEnv]!).password).toBe(after[r.passwordEnv]);
    }
  }, 60_000);

  it('refuses an unknown option', () => {
    const r = spawnSync('bash', [SECRETS_SCRIPT, '--rotate'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, K3S_DEPLOYMENT_DIR: dir } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('unknown argument');
  });
});

describe('scripts/k3s-token.sh', () => {
  let stubDir: string;
  let tmpDir: string;
  beforeAll(() => {
    stubDir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-kubectl-stub-'));
    // A kubectl that knows one cluster: person-api's template mounts udaconnect-auth-abc, whose
    // signing-key.json is the one k3s-secrets.sh wrote above. STUB_NO_DEPLOYMENT: no Deployment
    // (the script then takes the newest Secret with the token-keys label).
    fs.writeFileSync(
      path.join(stubDir, 'kubectl'),
      `#!/usr/bin/env bash
echo "$*" >>"${stubDir}/calls"
case "$*" in
  *"get deployment person-api"*) [ -n "\${STUB_NO_DEPLOYMENT:-}" ] && exit 1; printf 'udaconnect-auth-abc' ;;
  *"get secret -l app.kubernetes.io/part-of=udaconnect,app.kubernetes.io/component=token-keys"*) printf 'udaconnect-auth-abc' ;;
  *"get secret udaconnect-auth-abc -o go-template="*) base64 <"$STUB_KEY_FILE" | tr -d '\\n' ;;
  *) echo "stub kubectl: unexpected $*" >&2; exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
  });
  beforeEach(() => {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-token-tmp-'));
    fs.rmSync(path.join(stubDir, 'calls'), { force: true });
  });
  afterEach(() => fs.rmSync(tmpDir, { recursive: true, force: true }));
  afterAll(() => fs.rmSync(stubDir, { recursive: true, force: true }));

  function runToken(args: string[], extraEnv: Record<string, string> = {}) {
    return spawnSync('bash', [TOKEN_SCRIPT, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        KUBECTL: path.join(stubDir, 'kubectl'),
        KUBECONFIG: path.join(stubDir, 'kubeconfig'),
        TMPDIR: tmpDir,
        STUB_KEY_FILE: path.join(dir, 'auth/signing-key.json'),
        ...extraEnv,
      },
    });
  }
  const leftovers = () => fs.readdirSync(tmpDir).filter((f) => f.startsWith('udaconnect-signing-key'));

  it.each([
    ['the Secret person-api’s Deployment mounts', {}],
    ['the newest token-keys Secret when there is no Deployment', { STUB_NO_DEPLOYMENT: '1' }],
  ])(
    'prints an organizer token signed with %s, verified by the deployed jwks.json; the key file is removed',
    async (_label, extraEnv) => {
      const r = runToken(['--role', 'organizer', '--ttl', '2h'], extraEnv);
      expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
      const token = r.stdout.trim();
      expect(token.split('.')).toHaveLength(3);
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(read('auth/jwks.json'))), {
        issuer: 'udaconnect',
        audience: 'udaconnect',
      });
      expect(payload.role).toBe('organizer');
      expect(payload.exp! - payload.iat!).toBe(2 * 3600);
      expect(protectedHeader.kid).toBe((JSON.parse(read('auth/signing-key.json')) as { kid: string }).kid);
      expect(leftovers()).toEqual([]);
      const calls = fs.readFileSync(path.join(stubDir, 'calls'), 'utf8');
      expect(calls).toContain('-n udaconnect get secret udaconnect-auth-abc');
      // The private key never appears on the command line or in the output.
      const d = (JSON.parse(read('auth/signing-key.json')) as { d: string }).d;
      expect(calls + r.stdout + r.stderr).not.toContain(d);
    },
    60_000,
  );

  it('fails cleanly when the cluster has no key, and refuses another key file', () => {
    const r = runToken(['--role', 'organizer'], { STUB_KEY_FILE: '/nonexistent' });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(leftovers()).toEqual([]);
    const other = runToken(['--role', 'organizer', '--signing-key-file', path.join(dir, 'auth/signing-key.json')]);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('npm run token');
  }, 60_000);

  it('passes token.ts’s own checks through: no attendee tokens, a bounded lifetime', () => {
    const attendee = runToken(['--role', 'attendee']);
    expect(attendee.status).not.toBe(0);
    expect(attendee.stderr).toMatch(/devices/);
    const long = runToken(['--role', 'organizer', '--ttl', '30d']);
    expect(long.status).not.toBe(0);
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it('the public key set it is verified with is the public half of the key it signs with', () => {
    const signing = JSON.parse(read('auth/signing-key.json')) as Record<string, string>;
    const pub = createPublicKey(createPrivateKey({ key: signing, format: 'jwk' })).export({ format: 'jwk' }) as { x: string };
    const jwks = JSON.parse(read('auth/jwks.json')) as { keys: Array<{ kid: string; x: string }> };
    expect(jwks.keys.find((k) => k.kid === signing.kid)?.x).toBe(pub.x);
  });
});
