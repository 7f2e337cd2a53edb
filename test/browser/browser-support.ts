/**
 * What the browser tests share: the page built into a private folder (so two test files never
 * build into the same one), the frontend server as a real child process, Debian's Chromium, the
 * tokens, and a watch on the page for CSP violations, script errors and dialogs.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Harness } from '../../modules/person-api/test/harness';

export const ROOT = join(__dirname, '..', '..');
export const SHOTS = join(ROOT, 'test-output', 'browser');
const CHROMIUM = '/usr/bin/chromium';

export function ensureChromium() {
  try {
    execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`Chromium is required for the browser test and could not be installed:\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
  }
  mkdirSync(SHOTS, { recursive: true });
}

/** Tokens come from person-api's test harness (signed with the key the harness's API verifies with). */
export const organizerToken = (h: Harness): string => h.auth.organizer;
export const attendeeToken = (h: Harness, personId: number): Promise<string> => h.auth.attendee(personId);

/** Builds the page from the current sources into a fresh folder; returns it (served through DIST_DIR). */
export function buildPage(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'udaconnect-page-'));
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', dir, '--emptyOutDir'], {
    cwd: join(ROOT, 'modules/frontend'),
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}\n${build.stderr}`);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Frontend {
  url: string;
  log(): string;
  stop(): Promise<void>;
}

/** modules/frontend/server/main.ts on a free port; resolves once it listens. */
export function startFrontend(env: Record<string, string>): Promise<Frontend> {
  return new Promise((resolve, reject) => {
    let log = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'modules/frontend/server/main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', METRICS_PORT: '0', API_BASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stop = () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    const timer = setTimeout(() => reject(new Error(`frontend did not start in 90 s:\n${log}`)), 90_000);
    child.once('exit', (code) => reject(new Error(`frontend exited (${code}) before listening:\n${log}`)));
    for (const s of [child.stdout, child.stderr]) {
      readline.createInterface({ input: s }).on('line', (line) => {
        log += `${line}\n`;
        const m = /listening on (http:\/\/localhost:\d+\/)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ url: m[1]!, log: () => log, stop });
        }
      });
    }
  });
}

/** launch() gives Chromium a fresh, empty --user-data-dir of its own (and adds --headless). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

interface CspViolation {
  directive: string;
  blocked: string;
  sample: string;
  source: string;
}

export interface PageWatch {
  /** securitypolicyviolation events of every document the page loaded, and console reports of them. */
  violations(): Promise<Array<CspViolation | string>>;
  /** Uncaught exceptions and console errors. */
  errors: string[];
  /** alert/confirm/prompt/beforeunload dialogs (dismissed). */
  dialogs: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** Records, from before the first script of every document, what must never happen on the page. */
export async function watchPage(page: Page): Promise<PageWatch> {
  const found = { violations: [] as Array<CspViolation | string>, errors: [] as string[], dialogs: [] as string[], requests: [] as string[] };
  // A binding survives navigations and reloads, unlike anything kept in the page.
  await page.exposeFunction('__reportCspViolation', (v: CspViolation) => void found.violations.push(v));
  // (Page code as text: this project's TypeScript has no DOM types outside the frontend.)
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) => window.__reportCspViolation({
      directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile + ':' + e.lineNumber }));`,
  });
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(text)) found.violations.push(`console: ${text}`);
    else if (msg.type() === 'error') found.errors.push(`console: ${text} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => found.errors.push(`pageerror: ${err.message}`));
  page.on('dialog', (d) => {
    found.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => undefined);
  });
  page.on('request', (r) => found.requests.push(r.url()));
  return {
    errors: found.errors,
    dialogs: found.dialogs,
    requests: found.requests,
    async violations() {
      // Let events of the last moments reach the binding.
      await page.evaluate(() => new Promise((r) => setTimeout(r, 50))).catch(() => undefined);
      return [...found.violations];
    },
  };
}

/** The token the page keeps in sessionStorage (null when signed out). */
export const storedToken = (page: Page) => page.evaluate<string | null>(`sessionStorage.getItem('udaconnect.token')`);

/** Polls `read` until it equals `want` (deep), then asserts it. */
export async function poll<T>(read: () => Promise<T>, want: T, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(want) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  expect(last).toEqual(want);
}

/** A Content-Security-Policy header → directive → sources. */
export function parseCsp(header: string | undefined | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out[name.toLowerCase()] = sources;
  }
  return out;
}

/** The headers every answer of the frontend server carries (besides its CSP). */
export function expectSecurityHeaders(headers: Headers | Record<string, string>, what: string) {
  const get = (n: string) => (headers instanceof Headers ? headers.get(n) : (headers[n] ?? null));
  expect({
    what,
    nosniff: get('x-content-type-options'),
    referrer: get('referrer-policy'),
    frame: get('x-frame-options'),
    hasCsp: !!get('content-security-policy'),
  }).toEqual({
    what,
    nosniff: 'nosniff',
    referrer: 'no-referrer',
    frame: 'DENY',
    hasCsp: true,
  });
  expect(get('set-cookie')).toBeNull();
  expect(get('x-powered-by')).toBeNull();
}
