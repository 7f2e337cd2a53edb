/** Throwaway CAs and server certificates made with scripts/tls-certs.sh, in a temp folder per test file. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/test-env';

const TLS_CERTS_SCRIPT = join(ROOT, 'scripts', 'tls-certs.sh');

export interface CertRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runTlsCerts(args: string[]): CertRun {
  const r = spawnSync('bash', [TLS_CERTS_SCRIPT, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface CertSet {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
}

/** A CA and a server certificate for `hosts` in `dir` (made by the script; throws if it fails). */
export function makeCerts(dir: string, hosts = 'localhost,127.0.0.1,::1', extra: string[] = []): CertSet {
  const r = runTlsCerts(['--out', dir, '--hosts', hosts, ...extra]);
  if (r.status !== 0) throw new Error(`tls-certs.sh failed (${r.status}): ${r.stderr}`);
  const caFile = join(dir, 'ca.crt');
  return { dir, caFile, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), ca: readFileSync(caFile) };
}

export function tempDir(label: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `udaconnect-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
