/**
 * Reproducible installs: package-lock.json is complete (every platform's optional binaries, so
 * `npm ci` works on any platform and `npm install` has nothing to add) and agrees with every
 * package.json; provisioning and the Dockerfile install with `npm ci`; and
 * scripts/check-clean-tree.sh, which `npm test` runs at the end, fails a run that changes tracked
 * files or leaves files .gitignore does not cover (tried here on a scratch git repository).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

type Deps = Record<string, string>;
interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  dependencies?: Deps;
  devDependencies?: Deps;
  optionalDependencies?: Deps;
  peerDependencies?: Deps;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const lock = JSON.parse(read('package-lock.json')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
const packages = lock.packages;

/** Where Node (and npm) finds `name` when required from the package at lockfile path `from`. */
function resolveFrom(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const nested = dir.lastIndexOf('/node_modules/');
    dir = nested >= 0 ? dir.slice(0, nested) : ''; // a top-level package or a workspace folder: the root next
  }
}

const workspaceDirs = fs
  .readdirSync(path.join(ROOT, 'modules'))
  .filter((d) => fs.existsSync(path.join(ROOT, 'modules', d, 'package.json')))
  .map((d) => `modules/${d}`)
  .sort();

describe('package-lock.json', () => {
  it('is a version 3 lockfile without registry addresses', () => {
    expect(lock.lockfileVersion).toBe(3);
    for (const [p, e] of Object.entries(packages)) {
      if (e.resolved !== undefined) expect({ p, link: e.link }).toEqual({ p, link: true });
    }
  });

  it('has an entry for every dependency of every locked package, other platforms’ optional binaries included', () => {
    const missing: string[] = [];
    for (const [from, entry] of Object.entries(packages)) {
      for (const kind of ['dependencies', 'optionalDependencies', 'peerDependencies'] as const) {
        for (const name of Object.keys(entry[kind] ?? {})) {
          if (kind === 'peerDependencies' && entry.peerDependenciesMeta?.[name]?.optional) continue;
          if (!resolveFrom(from, name)) missing.push(`${from || '(root)'} → ${name} (${kind})`);
        }
      }
    }
    // An `npm install` on a platform whose binaries were left out adds them, and so rewrites the
    // lockfile: regenerate it on a clean tree (rm -rf node_modules; npm install) and commit it.
    expect(missing).toEqual([]);
  });

  it('pins every platform binary with a version and an integrity hash', () => {
    const platform = Object.entries(packages).filter(([, e]) => e.os || e.cpu);
    for (const [p, e] of platform) expect({ p, version: !!e.version, integrity: !!e.integrity }).toEqual({ p, version: true, integrity: true });
    // The packages with native binaries that the project uses, each for Linux, macOS and Windows.
    const names = platform.map(([p]) => p.replace(/^.*node_modules\//, ''));
    for (const family of [/^@swc\/core-/, /^@bufbuild\/buf-/, /^@esbuild\//]) {
      for (const osName of ['linux', 'darwin', 'win32']) {
        expect(names.filter((n) => family.test(n) && n.includes(osName)).length).toBeGreaterThan(0);
      }
    }
  });

  it('agrees with the root package.json and every workspace’s (what npm ci insists on)', () => {
    const kinds = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
    for (const dir of ['', ...workspaceDirs]) {
      const manifest = JSON.parse(read(path.join(dir, 'package.json'))) as LockEntry;
      const entry = packages[dir];
      expect({ dir, locked: entry !== undefined }).toEqual({ dir, locked: true });
      expect({ dir, name: entry!.name, version: entry!.version }).toEqual({ dir, name: manifest.name, version: manifest.version });
      for (const kind of kinds) expect({ dir, kind, deps: entry![kind] ?? {} }).toEqual({ dir, kind, deps: manifest[kind] ?? {} });
      if (dir) expect(packages[`node_modules/${manifest.name}`]).toMatchObject({ resolved: dir, link: true });
    }
    // No workspace the lockfile knows of has gone.
    const lockedWorkspaces = Object.keys(packages).filter((p) => p.startsWith('modules/') && !p.includes('/node_modules/'));
    expect(lockedWorkspaces.sort()).toEqual(workspaceDirs);
  });
});

describe('installs run npm ci', () => {
  it('scripts/provision.sh installs with npm ci and fails loudly if it changed the lockfile', () => {
    const body = read('scripts/provision.sh').match(/^ensure_node_modules\(\) \{\n([\s\S]*?)^\}/m)?.[1];
    expect(body).toBeDefined();
    const code = body!.replace(/"[^"\n]*"/g, '""'); // the commands, without the messages
    expect(code).toMatch(/npm ci --/);
    expect(code).not.toMatch(/npm install/);
    expect(body).toMatch(/run npm install and commit package-lock\.json/);
    expect(body).toMatch(/before=\$\(manifest_sums\)[\s\S]*after=\$\(manifest_sums\)/);
  });

  it('the Dockerfile copies every workspace’s package.json, then runs npm ci', () => {
    const text = read('Dockerfile');
    const build = text.slice(text.indexOf(' AS build\n'), text.indexOf('\nFROM ', text.indexOf(' AS build\n')));
    const copied = [...build.matchAll(/^COPY (modules\/[^/]+)\/package\.json \1\/$/gm)].map((m) => m[1]).sort();
    expect(copied).toEqual(workspaceDirs);
    expect(build).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
    expect(build).toMatch(/^RUN npm ci /m);
    expect(text).not.toMatch(/npm install/);
  });

  it('scripts/test.sh saves the tree state before provisioning and checks it before its closing line', () => {
    const text = read('scripts/test.sh');
    const save = text.indexOf('check-clean-tree.sh save');
    const provision = text.indexOf('bash scripts/provision.sh');
    const check = text.indexOf('check-clean-tree.sh check');
    const summary = text.indexOf('console.log(`tests:');
    expect(save).toBeGreaterThan(0);
    expect(save).toBeLessThan(provision);
    expect(check).toBeGreaterThan(text.lastIndexOf('npx jest'));
    expect(check).toBeLessThan(summary);
  });

  it('.gitignore covers what runs write into the work tree', () => {
    const ignore = read('.gitignore').split('\n');
    for (const entry of ['node_modules/', 'dist/', '.udaconnect/', 'test-output/', 'deployment/secrets.env', 'deployment/auth/', 'deployment/tls/']) {
      expect(ignore).toContain(entry);
    }
  });
});

describe('scripts/check-clean-tree.sh', () => {
  let repo: string;
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: repo, encoding: 'utf8' });
  const git = (...args: string[]) => {
    const r = run('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args]);
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  const script = (...args: string[]) => run('bash', ['scripts/check-clean-tree.sh', ...args]);
  const write = (f: string, text: string) => fs.writeFileSync(path.join(repo, f), text);
  /** save, change the tree, check: exit status and what it printed. */
  function around(change: () => void) {
    const saved = script('save', 'state.txt');
    expect(saved.status).toBe(0);
    change();
    const r = script('check', 'state.txt', 'the run');
    return { status: r.status, stderr: r.stderr };
  }

  beforeEach(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'udaconnect-clean-tree-'));
    fs.mkdirSync(path.join(repo, 'scripts'));
    fs.copyFileSync(path.join(ROOT, 'scripts/check-clean-tree.sh'), path.join(repo, 'scripts/check-clean-tree.sh'));
    write('.gitignore', 'state.txt\noutput/\n');
    write('package-lock.json', '{}\n');
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'start');
  });
  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  it('passes when the run changes nothing, or only ignored files (and contents touched but equal)', () => {
    const r = around(() => {
      fs.mkdirSync(path.join(repo, 'output'));
      write('output/report.json', '{}');
      write('package-lock.json', '{}\n');
    });
    expect(r).toEqual({ status: 0, stderr: '' });
  });

  it('fails, naming the file, when the run changes a tracked file', () => {
    const r = around(() => write('package-lock.json', '{"changed":true}\n'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the run changed tracked files[\s\S]*M package-lock\.json/);
  });

  it('fails, naming the file, when the run leaves a file .gitignore does not cover', () => {
    const r = around(() => write('secrets.env', 'X=1\n'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/left files that \.gitignore does not cover[\s\S]*\?\? secrets\.env/);
  });

  it('does not judge what was already being edited at the start, and says so', () => {
    write('package-lock.json', '{"edited":"before"}\n');
    write('notes.txt', 'draft\n');
    const r = around(() => {
      write('package-lock.json', '{"edited":"during"}\n');
      write('more-notes.txt', 'draft\n');
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/tracked files were already modified before the run: not checking them/);
    expect(r.stderr).toMatch(/untracked files were already present before the run/);
  });

  it('still checks tracked files when only untracked ones were present at the start', () => {
    write('notes.txt', 'draft\n');
    const r = around(() => write('package-lock.json', '{"changed":true}\n'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/M package-lock\.json/);
  });

  it('does nothing outside a git work tree', () => {
    fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
    const r = around(() => write('package-lock.json', '{"changed":true}\n'));
    expect(r).toEqual({ status: 0, stderr: '' });
  });
});
