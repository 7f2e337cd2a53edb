/**
 * Runs every service as its own process with prefixed logs, prints the URLs once they answer,
 * and on Ctrl-C (or SIGTERM) stops them all with SIGTERM and waits for each to exit.
 * If one service dies, the others are stopped and the exit code is non-zero.
 */
import { createTokenSigner, readSigningKeyFile } from '@udaconnect/common';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join, relative } from 'node:path';
import readline from 'node:readline';
import { serviceEnv, services, tlsDir } from './services';

const ROOT = join(__dirname, '..');
const COLORS = [36, 35, 33, 32, 34, 31];
const children = new Map<string, ChildProcess>();
let stopping = false;

const tag = (name: string, i: number) => `\x1b[${COLORS[i % COLORS.length]}m${name.padEnd(18)}\x1b[0m|`;

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await portAnswers(port)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  console.log('\nstopping services…');
  await Promise.all(
    [...children.entries()].map(
      ([name, child]) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), 25_000);
          child.once('exit', (c) => {
            clearTimeout(kill);
            console.log(`${name} stopped (exit ${c ?? 'signal'})`);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  process.exit(code);
}

async function main() {
  for (const [i, svc] of services.entries()) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, svc.entry)], {
      cwd: ROOT,
      env: serviceEnv(svc, process.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only this runner, which then stops each child once.
      detached: true,
    });
    children.set(svc.name, child);
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => console.log(`${tag(svc.name, i)} ${line}`));
    }
    child.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`${svc.name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the others`);
      void stopAll(1);
    });
  }
  process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const results = await Promise.all(services.map(async (s) => [s, await waitForPort(s.port, 60_000)] as const));
  const failed = results.filter(([, ok]) => !ok).map(([s]) => s.name);
  if (failed.length) {
    console.error(`did not start within 60 s: ${failed.join(', ')}`);
    return stopAll(1);
  }
  // Like Jupyter's URL: one click from a working page. The token rides in the fragment, which the
  // browser never sends to a server; the page moves it to sessionStorage and clears the address bar.
  const signer = await createTokenSigner(readSigningKeyFile(process.env.AUTH_SIGNING_KEY_FILE!));
  const { token, expiresAt } = await signer.sign({ role: 'organizer', subject: 'organizer:npm-start', ttlSeconds: 12 * 3600 });
  console.log('\n\x1b[1mUdaConnect is running\x1b[0m');
  for (const s of services) console.log(`  ${s.name.padEnd(20)} ${s.url ?? `localhost:${s.port}`}`);
  console.log(`\n  sign in to the page (organizer, until ${expiresAt.toISOString()}):\n    http://localhost:30000/#token=${token}\n`);
  console.log('  a token for curl:    TOKEN=$(npm run --silent token -- --role organizer)');
  if (tlsDir) {
    const ca = relative(process.cwd(), join(tlsDir, 'ca.crt')) || join(tlsDir, 'ca.crt');
    console.log(`  TLS: trust the local CA ${ca}`);
    console.log(`  try:                 curl --cacert ${ca} -H "Authorization: Bearer $TOKEN" https://localhost:30001/api/persons`);
    console.log(`  gRPC:                grpcurl -cacert ${ca} localhost:30002 list`);
    console.log('  simulate devices:    npm run simulate -- --tls --persons 200 --rate 2000 --duration 60');
  } else {
    console.log('  try:                 curl -H "Authorization: Bearer $TOKEN" localhost:30001/api/persons');
    console.log('  simulate devices:    npm run simulate -- --persons 200 --rate 2000 --duration 60');
  }
  console.log('  send one ping:       see README.md, "Sending location pings" (grpcurl)');
  console.log('Press Ctrl-C to stop.\n');
}

void main();
