/**
 * Who may call each REST route. Every route declares an Access (typed-routes.ts makes it a
 * required field); the guard verifies the bearer token before anything else runs, and
 * `authorize` applies the rule once the path parameters are known.
 *
 * - public: no token (health, docs, the JWK set).
 * - organizer: organizer tokens only.
 * - own-person: an organizer, or the attendee whose person_id is the path's {id}.
 * - signed-in: any organizer or attendee token; the handler checks the data itself (e.g. whose
 *   location a location id is) with assertMayActFor.
 * `legacyAnonymousRead` marks the three GETs the old page needs; they take no token only while
 * the operator's LEGACY_ANONYMOUS_READS setting is on (a migration aid, off by default).
 */
import type { Request } from 'express';
import { assertMayActFor, ForbiddenError, type Principal, type TokenVerifier } from '@udaconnect/common';
import { verifiedCaller } from './caller';

export const BEARER_SCHEME = 'bearerAuth';

export type Access =
  { rule: 'public' } | { rule: 'organizer'; legacyAnonymousRead?: boolean } | { rule: 'own-person'; legacyAnonymousRead?: boolean } | { rule: 'signed-in' };

export const access = {
  public: { rule: 'public' },
  organizer: { rule: 'organizer' },
  ownPerson: { rule: 'own-person' },
  signedIn: { rule: 'signed-in' },
} as const satisfies Record<string, Access>;

export interface RouteGuard {
  /** The verified caller, undefined for public routes and allowed anonymous reads; throws AuthError (401). */
  authenticate(req: Request, access: Access): Promise<Principal | undefined>;
  /** One sentence for the OpenAPI description. */
  describe(access: Access): string;
}

export function createRouteGuard(opts: { verifier: TokenVerifier; legacyAnonymousReads: boolean }): RouteGuard {
  return {
    async authenticate(req, access) {
      if (access.rule === 'public') return undefined;
      const header = req.headers.authorization;
      const anonymousRead = 'legacyAnonymousRead' in access && access.legacyAnonymousRead && (req.method === 'GET' || req.method === 'HEAD');
      if (header === undefined && anonymousRead && opts.legacyAnonymousReads) return undefined;
      const principal = await verifiedCaller(req, opts.verifier);
      // person-api's own service token is for connection-service; it opens nothing here.
      if (principal.role === 'service') throw new ForbiddenError('a service token may not call the REST API');
      return principal;
    },
    describe(access) {
      const text = {
        public: 'anyone, no token needed',
        organizer: 'organizers',
        'own-person': 'organizers, and the attendee whose person this is',
        'signed-in': 'organizers and attendees (an attendee only for their own person)',
      }[access.rule];
      const legacy =
        'legacyAnonymousRead' in access && access.legacyAnonymousRead ? ' Also anonymous callers while LEGACY_ANONYMOUS_READS is on (a migration aid).' : '';
      return `${text}.${legacy}`;
    },
  };
}

/** Applies the route's rule to a verified caller (undefined: public or an allowed anonymous read). */
export function authorize(caller: Principal | undefined, access: Access, params: Record<string, unknown>): void {
  if (!caller) return;
  if (access.rule === 'organizer' && caller.role !== 'organizer') throw new ForbiddenError('only an organizer may do this');
  if (access.rule === 'own-person') assertMayActFor(caller, Number(params.id));
}
