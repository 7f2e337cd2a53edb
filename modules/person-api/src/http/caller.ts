/**
 * A request's bearer token is verified once, however many steps ask: the quota (rate-limit.ts,
 * before the body is read) and the route's guard (access.ts) share the one verification.
 */
import type { Request } from 'express';
import type { Principal, TokenVerifier } from '@udaconnect/common';

const verified = new WeakMap<Request, Promise<Principal>>();

/** The principal behind the request's Authorization header, or the AuthError (401) / AuthUnavailableError (503). */
export function verifiedCaller(req: Request, verifier: TokenVerifier): Promise<Principal> {
  let principal = verified.get(req);
  if (!principal) {
    principal = verifier.verifyAuthorization(req.headers.authorization);
    verified.set(req, principal);
  }
  return principal;
}
