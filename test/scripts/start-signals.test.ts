/**
 * SIGTERM to `npm start` (what `timeout`, systemd or a process manager send: one signal, to the
 * process they started) or to scripts/start.sh itself stops every service, not only the shell.
 *
 * The real package.json start command, scripts/start.sh and runner run in a sandbox directory in
 * which provisioning, database setup and the page build are stubs (they would touch the dev
 * database), with one real service (connection-service) on a private test database and a moved
 * port; the broker is named by KAFKA_BROKERS, so start.sh leaves it alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAuth } from '../support/auth';
import { eventually } from '../support/eventually';
import { isAlive, processTable } from '../support/processes';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { infraEnv, ROOT, serviceDatabaseUrl } from '../support/test-env';

jest.setTimeout(120_000);

let testDb: TestDatabase;
let sandbox: string;
let baseEnv: NodeJS.ProcessEnv;
const leftovers = new Set<number>();

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** `root` and all its descendants, with their command lines. */
function tree(root: number): Map<number, string> {
  const table = processTable();
  const out = new Map<number, string>();
  const visit = (pid: number) => {
    const entry = table.get(pid);
    if (!entry) return;
    out.set(pid, entry[1]);
    for (const [child, [ppid]] of table) if (ppid === pid) visit(child);
  };
  visit(root);
  return out;
}

beforeAll(async () => {
  testDb = await createTestDatabase('startsignals');
  const auth = await testAuth();
  sandbox = mkdtempSync(join(tmpdir(), 'udaconnect-start-'));
  mkdirSync(join(sandbox, 'scripts'));
  mkdirSync(join(sandbox, '.udaconnect'));
  const bin = join(sandbox, 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  // The real start command and script.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  writeFileSync(join(sandbox, 'package.json'), JSON.stringify({ name: 'start-sandbox', private: true, scripts: { start: pkg.scripts.start } }));
  copyFileSync(join(ROOT, 'scripts', 'start.sh'), join(sandbox, 'scripts', 'start.sh'));
  // Stubs for what would touch the machine or the dev database.
  writeFileSync(join(sandbox, 'scripts', 'provision.sh'), '#!/usr/bin/env bash\nexit 0\n');
  writeFileSync(
    join(sandbox, 'scripts', 'stop-infra.sh'),
    `#!/usr/bin/env bash\necho "stop-infra called" >&2\ntouch "${join(sandbox, 'stop-infra-called')}"\n`,
  );
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // npm puts node_modules/.bin first on PATH: start.sh's `node` and `npm` are these.
  script(
    'node',
    [
      'case " $* " in',
      '  *" db/cli.ts "*|*" scripts/seed-demo-event.ts "*) exit 0 ;;',
      `  *" scripts/run-services.ts "*) cd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx scripts/run-services.ts ;;`,
      `  *) exec ${JSON.stringify(process.execPath)} "$@" ;;`,
      'esac',
    ].join('\n'),
  );
  script('npm', 'exit 0 # the page build');
  // What start.sh sources: the test database through connection-service's own role, test keys.
  const env = {
    CONNECTION_SERVICE_DATABASE_URL: serviceDatabaseUrl('connection-service', testDb.url),
    AUTH_JWKS_FILE: auth.env.AUTH_JWKS_FILE,
    AUTH_SIGNING_KEY_FILE: auth.env.AUTH_SIGNING_KEY_FILE,
  };
  writeFileSync(
    join(sandbox, '.udaconnect', 'env'),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  baseEnv = { ...process.env, KAFKA_BROKERS: infraEnv().kafkaBrokers, UDACONNECT_SERVICES: 'connection-service' };
  for (const k of [
    'DATABASE_URL',
    'PERSON_API_DATABASE_URL',
    'INGEST_DATABASE_URL',
    'WRITER_DATABASE_URL',
    'CONNECTION_SERVICE_DATABASE_URL',
    'UDACONNECT_TLS_DIR',
    'LOG_FORMAT',
  ]) {
    delete baseEnv[k];
  }
});

afterAll(async () => {
  for (const pid of leftovers) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  await testDb?.drop();
});

/** A free port in 31500–32699: below the ephemeral range, apart from runner.test.ts's 30200–31449. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 31500 + Math.floor(Math.random() * 1200);
    if (await portFree(port)) return port;
  }
}

test.each([
  ['`npm start`, SIGTERM to npm only', (env: NodeJS.ProcessEnv) => spawn('npm', ['start'], { cwd: sandbox, env, stdio: ['ignore', 'pipe', 'pipe'] })],
  [
    'scripts/start.sh, SIGTERM to bash only',
    (env: NodeJS.ProcessEnv) =>
      spawn('bash', ['scripts/start.sh'], {
        cwd: sandbox,
        env: { ...env, PATH: `${join(sandbox, 'node_modules', '.bin')}:${env.PATH}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
  ],
])('%s: every service stops', async (_name, launch: (env: NodeJS.ProcessEnv) => ChildProcess) => {
  const port = await freePort();
  const proc = launch({ ...baseEnv, UDACONNECT_PORT_OFFSET: String(port - 30003) });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  await eventually(() => expect(output).toContain('UdaConnect is running'), 90_000, 200);
  const before = tree(proc.pid!);
  for (const pid of before.keys()) leftovers.add(pid);
  const commands = [...before.values()];
  expect(commands.some((c) => c.includes('scripts/run-services.ts'))).toBe(true);
  expect(commands.some((c) => c.includes('modules/connection-service/src/main.ts'))).toBe(true);
  expect(await portFree(port)).toBe(false);

  process.kill(proc.pid!, 'SIGTERM');
  await exited;
  // Everything that ran under it is gone, and the port is free again.
  await eventually(() => expect([...before.keys()].filter(isAlive).map((pid) => `${pid} ${before.get(pid)}`)).toEqual([]), 40_000, 200);
  expect(await portFree(port)).toBe(true);
  expect(output).toMatch(/connection-service stopped \(exit 0\)/);
});
