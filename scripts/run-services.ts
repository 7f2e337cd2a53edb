/**
 * Runs every service as its own process, prints the URLs once they answer, and keeps them
 * running the way Kubernetes would: a service that exits (crash, SIGKILL, a fatal error) is
 * started again, alone, after 1 s, 2 s, 4 s … up to 30 s; the delay starts over once a run has
 * lasted a minute. The other services are not touched.
 *
 * Ctrl-C, SIGTERM or SIGHUP stops them all with SIGTERM and waits for each to exit (SIGKILL
 * after 25 s); a second signal a second or more later kills them at once.
 *
 * Output: services log JSON; on a terminal (or LOG_FORMAT=pretty) each line is pretty-printed
 * behind the service's coloured tag, otherwise passed on as JSON (scripts/log-format.ts).
 * UDACONNECT_PORT_OFFSET and UDACONNECT_SERVICES (tests) move the ports and choose the services
 * (scripts/services.ts).
 */
import { organizerTokens } from '@udaconnect/common';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join, relative } from 'node:path';
import readline from 'node:readline';
import { createLineFormatter, logFormat, serviceTag, useColors } from './log-format';
import { nextRestart, selectServices, serviceEnv, tlsDir, type ServiceSpec } from './services';

const ROOT = join(__dirname, '..');
/** Ctrl-C reaches the runner from the terminal and again through npm and start.sh: one request. */
const REPEATED_SIGNAL_MS = 1_000;
const STOP_TIMEOUT_MS = 25_000;

const isTTY = Boolean(process.stdout.isTTY);
const colors = useColors(process.env, isTTY);
const format = createLineFormatter({ format: logFormat(process.env, isTTY), colors });
const bold = (s: string) => (colors ? `\x1b[1m${s}\x1b[0m` : s);

interface Running {
  svc: ServiceSpec;
  tag: string;
  child?: ChildProcess;
  startedAt: number;
  /** Restarts in a row, without a run that lasted long enough in between (decides the delay). */
  consecutive: number;
  /** Restarts since `npm start` (printed). */
  restarts: number;
  timer?: NodeJS.Timeout;
}

const running: Running[] = [];
let stopping = false;
let firstSignalAt = 0;

function alive(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function start(r: Running): void {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, r.svc.entry)], {
    cwd: ROOT,
    env: { ...serviceEnv(r.svc, process.env), LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches only this runner, which then stops each child once.
    detached: true,
  });
  r.child = child;
  r.startedAt = Date.now();
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => console.log(format(r.tag, line)));
  }
  child.once('error', (err) => console.error(`${r.svc.name}: could not start: ${err.message}`));
  child.once('exit', (code, signal) => {
    if (stopping) return;
    const { delayMs, consecutive } = nextRestart(r.consecutive, Date.now() - r.startedAt);
    r.consecutive = consecutive;
    r.restarts++;
    console.error(`${r.svc.name} exited (${signal ?? `code ${code}`}); restarting in ${delayMs / 1000} s (restart ${r.restarts})`);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      if (!stopping) start(r);
    }, delayMs);
  });
}

async function stopAll(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // The same Ctrl-C arrives more than once (terminal, npm, start.sh): only a later one forces.
    if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
    console.error(`\n${signal} again: killing the services now`);
    for (const r of running) if (alive(r.child)) r.child.kill('SIGKILL');
    process.exit(1);
  }
  stopping = true;
  firstSignalAt = Date.now();
  console.log('\nstopping services…');
  await Promise.all(
    running.map(
      (r) =>
        new Promise<void>((resolve) => {
          clearTimeout(r.timer);
          const child = r.child;
          if (!alive(child)) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          // 'close': exited and its output read to the end, so its last lines are printed first.
          child.once('close', (code, sig) => {
            clearTimeout(kill);
            console.log(`${r.svc.name} stopped (${sig ?? `exit ${code}`})`);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  process.exit(0);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts connections; logs once if that takes longer than `warnAfterMs`. */
async function waitForPort(r: Running, warnAfterMs: number): Promise<void> {
  const warnAt = Date.now() + warnAfterMs;
  let warned = false;
  while (!stopping) {
    if (await portAnswers(r.svc.port)) return;
    if (!warned && Date.now() > warnAt) {
      warned = true;
      console.error(`${r.svc.name} does not answer on port ${r.svc.port} after ${warnAfterMs / 1000} s (see its log above); still waiting`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function main() {
  let specs: ServiceSpec[];
  try {
    specs = selectServices(process.env);
  } catch (err) {
    console.error(`npm start: ${(err as Error).message}`);
    process.exit(2);
  }
  for (const [i, svc] of specs.entries()) {
    running.push({ svc, tag: serviceTag(svc.name, i, colors), startedAt: 0, consecutive: 0, restarts: 0 });
  }
  process.on('exit', () => running.forEach((r) => alive(r.child) && r.child.kill('SIGKILL')));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(signal));
  running.forEach(start);

  // A service that keeps failing is restarted with backoff and never stops the others; the
  // banner waits until every service answers.
  await Promise.all(running.map((r) => waitForPort(r, 60_000)));
  if (stopping) return;
  // Like Jupyter's URL: one click from a working page. The token rides in the fragment, which the
  // browser never sends to a server; the page moves it to sessionStorage and clears the address bar.
  const { token, expiresAt } = await (await organizerTokens(process.env.AUTH_SIGNING_KEY_FILE!))('npm-start', 12 * 3600);
  const frontend = specs.find((s) => s.name === 'frontend');
  const api = specs.find((s) => s.name === 'person-api');
  console.log(`\n${bold('UdaConnect is running')}`);
  for (const s of specs) console.log(`  ${s.name.padEnd(20)} ${s.url ?? `localhost:${s.port}`}`);
  if (frontend) console.log(`\n  sign in to the page (organizer, until ${expiresAt.toISOString()}):\n    ${frontend.url}#token=${token}\n`);
  console.log('  a token for curl:    TOKEN=$(npm run --silent token -- --role organizer)');
  if (tlsDir) {
    const ca = relative(process.cwd(), join(tlsDir, 'ca.crt')) || join(tlsDir, 'ca.crt');
    console.log(`  TLS: trust the local CA ${ca}`);
    console.log(`  try:                 curl --cacert ${ca} -H "Authorization: Bearer $TOKEN" ${api?.url ?? 'https://localhost:30001/'}api/persons`);
    console.log(`  gRPC:                grpcurl -cacert ${ca} localhost:30002 list`);
    console.log('  simulate devices:    npm run simulate -- --tls --persons 200 --rate 2000 --duration 60');
  } else {
    console.log(
      `  try:                 curl -H "Authorization: Bearer $TOKEN" ${(api?.url ?? 'http://localhost:30001/').replace(/^http:\/\//, '')}api/persons`,
    );
    console.log('  simulate devices:    npm run simulate -- --persons 200 --rate 2000 --duration 60');
  }
  console.log('  send one ping:       see README.md, "Sending location pings" (grpcurl)');
  console.log('A service that exits is restarted alone, with backoff. Press Ctrl-C to stop.\n');
}

void main();
