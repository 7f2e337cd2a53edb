/**
 * REST quotas (docs/contract.md §7): each caller may send so many requests per window
 * (RATE_LIMIT_*), counted in memory by rate-limiter-flexible. A request with a valid token counts
 * against that token (an organizer's or an attendee's limit); any other one (no token, or a token
 * that fails verification) against the client's address, so guessing tokens is limited too. IPv6
 * addresses count by their /64, which one client usually holds whole. Over the limit: 429 with
 * Retry-After. A key is dropped when its window ends: memory is one entry per caller of the last window.
 */
import type { RequestHandler } from 'express';
import ipaddr from 'ipaddr.js';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { HttpProblem, type Principal, type TokenVerifier } from '@udaconnect/common';
import { verifiedCaller } from './caller';

export interface RateLimits {
  /** Requests per window for one attendee (device) token; 0: no limit. */
  attendee: number;
  /** Requests per window for one organizer token; 0: no limit. */
  organizer: number;
  /** Requests per window from one client address without a valid token; 0: no limit. */
  anonymous: number;
  windowSeconds: number;
}

/**
 * Kubernetes' probes, never limited: the kubelet probes from the node's address, which anonymous
 * clients share when the Service NATs them, and a refused probe would take the pod out of service.
 */
export const UNLIMITED_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** The address a request counts against: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function clientKey(ip: string | undefined): string {
  if (ip === undefined || !ipaddr.isValid(ip)) return `ip:${ip ?? 'unknown'}`;
  const address = ipaddr.process(ip);
  if (address instanceof ipaddr.IPv4) return `ip:${address.toString()}`;
  return `ip:${new ipaddr.IPv6([...address.parts.slice(0, 4), 0, 0, 0, 0]).toRFC5952String()}/64`;
}

const per = (seconds: number) => (seconds === 60 ? 'minute' : seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} s`);

interface Quota {
  limiter: RateLimiterMemory;
  /** The problem's words for it: "per-token limit of 300 requests per minute". */
  text: string;
}

/** Before the body is parsed and the routes run; after CORS, so a browser can read a 429's Retry-After. */
export function rateLimit(limits: RateLimits, verifier: TokenVerifier): RequestHandler {
  const quota = (points: number, text: string): Quota | undefined =>
    points > 0
      ? { limiter: new RateLimiterMemory({ points, duration: limits.windowSeconds }), text: `${text} of ${points} requests per ${per(limits.windowSeconds)}` }
      : undefined;
  const organizer = quota(limits.organizer, 'per-token limit');
  // A service token opens nothing here (403), so it gets the smaller limit.
  const attendee = quota(limits.attendee, 'per-token limit');
  const anonymous = quota(limits.anonymous, 'per-IP limit (requests without a valid token)');
  return async (req, _res, next) => {
    if (UNLIMITED_PATHS.has(req.path.toLowerCase().replace(/\/$/, ''))) return next();
    const header = req.headers.authorization;
    // Verified once for the request: the route's guard reuses this verification (caller.ts).
    const principal: Principal | undefined = header === undefined ? undefined : await verifiedCaller(req, verifier).catch(() => undefined);
    const [counted, key] = principal ? [principal.role === 'organizer' ? organizer : attendee, `token:${principal.tokenId}`] : [anonymous, clientKey(req.ip)];
    if (counted) {
      try {
        await counted.limiter.consume(key);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new HttpProblem(429, 'Too Many Requests', `Over the ${counted.text}; retry in ${seconds} s`, undefined, { 'Retry-After': String(seconds) });
      }
    }
    next();
  };
}
