/**
 * The frontend server's settings (docs/configuration.md, `frontend`). A bad value stops it at
 * start-up with a message naming the variable (runService → loadConfigOrExit).
 */
import { z } from 'zod';
import { env, metricsConfigShape, tracingConfigShape } from '@udaconnect/common';

const HTTP_ONLY = 'only http: and https: are supported';
const NO_CREDENTIALS = 'it must not carry credentials';

/** A check for superRefine: `check` throws an Error whose message becomes the issue. */
const refineWith =
  (prefix: string, check: (value: string) => unknown) =>
  (value: string, ctx: z.RefinementCtx): void => {
    try {
      check(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${prefix}: ${(err as Error).message}` });
    }
  };

function httpUrl(text: string): URL {
  const u = new URL(text);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(HTTP_ONLY);
  return u;
}

/**
 * The CSP source for a Leaflet tile URL template: its scheme, host and port. A `{s}` subdomain
 * may only be the host's first label (it becomes CSP's `*.` wildcard).
 */
export function tileSource(template: string): string {
  if (!/\{z\}/.test(template) || !/\{x\}/.test(template) || !/\{-?y\}/.test(template)) {
    throw new Error('it must be a tile URL template with {z}, {x} and {y}');
  }
  const u = httpUrl(template.replace(/\{s\}/g, 'subdomain-placeholder').replace(/\{-?[a-z]+\}/gi, '0'));
  if (u.username || u.password) throw new Error(NO_CREDENTIALS);
  let host = u.host;
  if (host.includes('subdomain-placeholder')) {
    if (!host.startsWith('subdomain-placeholder.')) throw new Error('{s} may only be the first label of the host name');
    host = `*${host.slice('subdomain-placeholder'.length)}`;
  }
  return `${u.protocol}//${host}`;
}

/** The API's origin when the page calls it elsewhere; null for '' and a path (this origin: 'self'). */
export function apiOrigin(apiBaseUrl: string): string | null {
  if (apiBaseUrl === '' || apiBaseUrl.startsWith('/')) return null;
  const u = httpUrl(apiBaseUrl);
  if (u.username || u.password) throw new Error(NO_CREDENTIALS);
  return u.origin;
}

export const frontendConfigSchema = z.object({
  /** The page's HTTP port (0: any free port). */
  PORT: env.port(30000),
  /** Where the /api proxy sends requests; https:// is allowed. */
  PERSON_API_URL: z.string().superRefine(refineWith('not a usable http(s) URL', httpUrl)).default('http://localhost:30001'),
  /** PEM CA trusted for an https:// PERSON_API_URL (else the system's); read at start-up. */
  PERSON_API_CA_FILE: env.file().optional(),
  /** Served to the page in /config.json; unset (''): the same origin, through the proxy. */
  API_BASE_URL: z.string().superRefine(refineWith('must be empty, a path, or an http(s) URL', apiOrigin)).optional(),
  /** The map's tile server: the only foreign origin the page may load images from. */
  TILE_URL: z.string().superRefine(refineWith('not a usable tile URL template', tileSource)).default('https://tile.openstreetmap.org/{z}/{x}/{y}.png'),
  /** The built page; unset: modules/frontend/dist, built when missing (a DIST_DIR never is). */
  DIST_DIR: z.string().min(1).optional(),
  LOG_LEVEL: env.logLevel(),
  /** GET /metrics and /healthz for Prometheus and operators: never the public port. */
  ...metricsConfigShape(30010),
  ...tracingConfigShape,
});

export type FrontendConfig = z.infer<typeof frontendConfigSchema>;
