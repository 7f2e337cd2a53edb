/**
 * Tokens and roles (docs/contract.md §2.1, README "Security"): EdDSA-signed JWTs made and checked with `jose`.
 *
 * - organizer: everything. Issued by `npm run token` (scripts/token.ts) or scripts/k3s-token.sh.
 * - attendee: a device's token, bound to one person (`person_id`); its `jti` is the device id,
 *   so DELETE /api/devices/{id} revokes it (RevocationList).
 * - service: person-api's own short-lived token for connection-service, used only when a
 *   request carried no token of its own (the legacy anonymous-read setting).
 *
 * Every service that takes requests verifies with a JWK set of at most two public keys (the
 * current signing key and the previous one), so keys rotate without refusing tokens in flight.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Knex } from './db';
import type { Logger } from './logger';

export const TOKEN_ALGORITHM = 'EdDSA';
export const TOKEN_ISSUER = 'udaconnect';
export const TOKEN_AUDIENCE = 'udaconnect';
/** A verification set holds the current key and at most one previous key. */
export const MAX_VERIFICATION_KEYS = 2;

export type Role = 'organizer' | 'attendee' | 'service';

export type Principal =
  | { role: 'organizer'; subject: string; tokenId: string; expiresAt: Date }
  | { role: 'attendee'; subject: string; tokenId: string; expiresAt: Date; personId: number; deviceId: string }
  | { role: 'service'; subject: string; tokenId: string; expiresAt: Date };

/** Why a token was refused; every kind maps to 401 / UNAUTHENTICATED. */
export type AuthFailure = 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked';

export class AuthError extends Error {
  constructor(
    readonly failure: AuthFailure,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/**
 * Tokens cannot be checked yet (the revoked-token list has never been read: the database was down
 * since start-up): 503 / UNAVAILABLE, so a revoked token is never let through for want of the list.
 */
export class AuthUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthUnavailableError';
  }
}

/** The caller may not do this (valid token, wrong role or person): 403 / PERMISSION_DENIED. */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

// ---------------------------------------------------------------- keys

/** A private Ed25519 JWK with `kid` (its RFC 7638 thumbprint) and `alg`. */
export type SigningKey = JWK & { kid: string; alg: typeof TOKEN_ALGORITHM; d: string };

const publicJwkSchema = z
  .looseObject({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string().min(1),
    kid: z.string().min(1),
    alg: z.literal(TOKEN_ALGORITHM).optional(),
  })
  .refine((k) => !('d' in k), 'is a private key: a verification key set must hold public keys only');
const jwksSchema = z.object({
  keys: z.array(publicJwkSchema).min(1, 'holds no key').max(MAX_VERIFICATION_KEYS, `holds more than ${MAX_VERIFICATION_KEYS} keys`),
});
const signingKeySchema = z.looseObject({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1),
  alg: z.literal(TOKEN_ALGORITHM),
});

export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(TOKEN_ALGORITHM, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: TOKEN_ALGORITHM, d: jwk.d! };
}

/** The public half of a signing key, as published in the JWK set. */
export function publicJwk(key: SigningKey): JWK {
  return { kty: key.kty, crv: key.crv, x: key.x, kid: key.kid, alg: TOKEN_ALGORITHM, use: 'sig' };
}

/**
 * The key set after a rotation to `next`: the new public key first, then the newest previous
 * key; anything older drops out (its tokens are refused from now on).
 */
export function rotatedKeySet(current: JSONWebKeySet, next: SigningKey): JSONWebKeySet {
  const previous = current.keys.filter((k) => k.kid !== next.kid);
  return { keys: [publicJwk(next), ...previous].slice(0, MAX_VERIFICATION_KEYS) };
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the ${what} ${file} is not JSON`);
  }
}

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  return parsed.data;
}

export const parseKeySet = (value: unknown, what = 'JWK set'): JSONWebKeySet => checked(jwksSchema, value, what);
export const parseSigningKey = (value: unknown, what = 'signing key'): SigningKey => checked(signingKeySchema, value, what);

export const readKeySetFile = (file: string): JSONWebKeySet => parseKeySet(readJsonFile(file, 'JWK set'), `JWK set ${file}`);
export const readSigningKeyFile = (file: string): SigningKey => parseSigningKey(readJsonFile(file, 'signing key'), `signing key ${file}`);

// ---------------------------------------------------------------- signing

export interface TokenRequest {
  role: Role;
  /** Who the token speaks for: "organizer:<name>", "device:<id>", "service:person-api". */
  subject: string;
  ttlSeconds: number;
  /** attendee only */
  personId?: number;
  /** attendee only: becomes the jti, so revoking the device revokes the token */
  deviceId?: string;
}

export interface TokenSigner {
  sign(request: TokenRequest): Promise<{ token: string; expiresAt: Date; tokenId: string }>;
}

export async function createTokenSigner(key: SigningKey): Promise<TokenSigner> {
  const privateKey = await importJWK(key, TOKEN_ALGORITHM);
  return {
    async sign({ role, subject, ttlSeconds, personId, deviceId }) {
      if (role === 'attendee' && (!personId || !deviceId)) throw new Error('an attendee token needs a person id and a device id');
      if (!(ttlSeconds > 0)) throw new Error('ttlSeconds must be positive');
      const now = Math.floor(Date.now() / 1000);
      const tokenId = deviceId ?? randomUUID();
      const exp = now + Math.floor(ttlSeconds);
      const token = await new SignJWT({ role, ...(role === 'attendee' ? { person_id: personId } : {}) })
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid, typ: 'JWT' })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(subject)
        .setJti(tokenId)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(privateKey);
      return { token, expiresAt: new Date(exp * 1000), tokenId };
    },
  };
}

/**
 * Organizer tokens signed with the private key in `keyFile`, as `npm run token` prints them: the
 * key is read once, each call signs one token for `organizer:<name>`. Used by the token command,
 * `npm start`'s sign-in link, the simulator and the benchmarks.
 */
export async function organizerTokens(keyFile: string): Promise<(name: string, ttlSeconds: number) => Promise<{ token: string; expiresAt: Date }>> {
  const signer = await createTokenSigner(readSigningKeyFile(keyFile));
  return (name, ttlSeconds) => signer.sign({ role: 'organizer', subject: `organizer:${name}`, ttlSeconds });
}

// ---------------------------------------------------------------- verification

const claimsSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('organizer'), sub: z.string().min(1), jti: z.string().min(1), exp: z.number() }),
  z.object({
    role: z.literal('attendee'),
    sub: z.string().min(1),
    jti: z.uuid(),
    exp: z.number(),
    person_id: z.number().int().positive().max(2_147_483_647),
  }),
  z.object({ role: z.literal('service'), sub: z.string().min(1), jti: z.string().min(1), exp: z.number() }),
]);

/** Tokens refused although their signature is good: revoked token ids (device ids), and every token of an erased person. */
export interface RevocationCheck {
  isRevoked(tokenId: string): boolean;
  isPersonErased?(personId: number): boolean;
}

export interface TokenVerifier {
  /** The principal behind a raw token, or an AuthError. */
  verify(token: string): Promise<Principal>;
  /** The same for an `Authorization` header value ("Bearer <token>"). */
  verifyAuthorization(header: string | undefined): Promise<Principal>;
  /** False once a principal verified earlier has expired or been revoked (long streams check this). */
  isCurrent(principal: Principal): boolean;
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[ ]*$/i;
/** Longest Authorization value looked at; real tokens are ~400 bytes. */
const MAX_TOKEN_LENGTH = 4096;

/**
 * Verifies signature (EdDSA only, keys from the set), issuer, audience, expiry and claims.
 * Successful verifications are cached by token string (the signature check dominates the cost
 * of a unary gRPC call); expiry and revocation are checked again on every use.
 */
export function createTokenVerifier(opts: {
  keys: JSONWebKeySet;
  revocations?: RevocationCheck;
  clockToleranceSeconds?: number;
  cacheSize?: number;
}): TokenVerifier {
  const keySet = createLocalJWKSet(parseKeySet(opts.keys));
  const cache = new LRUCache<string, Principal>({ max: opts.cacheSize ?? 10_000 });
  const tolerance = opts.clockToleranceSeconds ?? 5;

  const stillValid = (p: Principal): Principal => {
    if (p.expiresAt.getTime() + tolerance * 1000 <= Date.now()) throw new AuthError('expired', 'the token has expired');
    if (opts.revocations?.isRevoked(p.tokenId)) throw new AuthError('revoked', 'the token has been revoked');
    if (p.role === 'attendee' && opts.revocations?.isPersonErased?.(p.personId)) throw new AuthError('revoked', "the token's person has been erased");
    return p;
  };

  const verify = async (token: string): Promise<Principal> => {
    const hit = cache.get(token);
    if (hit) return stillValid(hit);
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keySet, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: tolerance,
        requiredClaims: ['exp', 'sub', 'jti', 'iat'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AuthError('expired', 'the token has expired');
      if (err instanceof errors.JWKSNoMatchingKey) throw new AuthError('invalid', 'the token is signed by an unknown key');
      if (err instanceof errors.JOSEError) throw new AuthError('invalid', `the token is not valid (${err.code})`);
      throw err;
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new AuthError('invalid', 'the token does not carry a known role and its claims');
    const c = claims.data;
    const base = { subject: c.sub, tokenId: c.jti, expiresAt: new Date(c.exp * 1000) };
    const principal: Principal = c.role === 'attendee' ? { role: 'attendee', ...base, personId: c.person_id, deviceId: c.jti } : { role: c.role, ...base };
    cache.set(token, principal);
    return stillValid(principal);
  };

  return {
    verify,
    isCurrent(principal) {
      try {
        stillValid(principal);
        return true;
      } catch {
        return false;
      }
    },
    async verifyAuthorization(header) {
      if (header === undefined || header === '') throw new AuthError('missing', 'an Authorization: Bearer <token> header is required');
      if (header.length > MAX_TOKEN_LENGTH) throw new AuthError('malformed', 'the Authorization header is too long');
      const m = BEARER.exec(header);
      if (!m) throw new AuthError('malformed', 'the Authorization header must be "Bearer <token>"');
      return verify(m[1]!);
    },
  };
}

// ---------------------------------------------------------------- rules

/** Organizer (and person-api's service token) may act for anyone; an attendee only for their own person. */
export function mayActFor(principal: Principal, personId: number): boolean {
  return principal.role !== 'attendee' || principal.personId === personId;
}

export function assertMayActFor(principal: Principal, personId: number): void {
  if (!mayActFor(principal, personId)) {
    throw new ForbiddenError(`this token belongs to person ${(principal as { personId: number }).personId} and may not act for person ${personId}`);
  }
}

// ---------------------------------------------------------------- revocation

/**
 * The ids of revoked device tokens that have not expired yet, re-read from the `device` table
 * every `pollMs` (≤ 60 s, so a revoked token is refused everywhere within a minute). When the
 * database cannot be read the last known list stays in force and a warning is logged.
 */
export class RevocationList implements RevocationCheck {
  private revoked: Set<string> | undefined;
  private erased = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /**
   * What add() and addErasedPerson() were told while a read was running: that read may have started
   * before the revocation was committed, and the list it returns must not drop it.
   */
  private readonly revokedDuringRead = new Set<string>();
  private readonly erasedDuringRead = new Set<number>();
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly pollMs = 15_000,
  ) {}

  /** Throws AuthUnavailableError until the list has been read once. */
  isRevoked(tokenId: string): boolean {
    return this.loadedList().has(tokenId);
  }

  /** Whether the list has been read at least once (readiness). */
  get loaded(): boolean {
    return this.revoked !== undefined;
  }

  isPersonErased(personId: number): boolean {
    this.loadedList();
    return this.erased.has(personId);
  }

  private loadedList(): Set<string> {
    if (!this.revoked) throw new AuthUnavailableError('tokens cannot be checked yet (the revoked-token list is not loaded); retry shortly');
    return this.revoked;
  }

  /** Known at once in this process (person-api, right after DELETE /api/devices/{id}). */
  add(tokenId: string): void {
    this.revoked?.add(tokenId);
    if (this.refreshing) this.revokedDuringRead.add(tokenId);
  }

  /** Known at once in this process (person-api, right after DELETE /api/persons/{id}). */
  addErasedPerson(personId: number): void {
    this.erased.add(personId);
    if (this.refreshing) this.erasedDuringRead.add(personId);
  }

  async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const [rows, erased] = await Promise.all([
          this.knex('device').select<Array<{ id: string }>>('id').whereNotNull('revoked_at').andWhere('expires_at', '>', this.knex.fn.now()),
          // Ids only (a few bytes each): erasure keeps nothing else of a person.
          this.knex('erased_person').select<Array<{ person_id: number }>>('person_id'),
        ]);
        this.erased = new Set([...erased.map((r) => r.person_id), ...this.erasedDuringRead]);
        this.revoked = new Set([...rows.map((r) => r.id), ...this.revokedDuringRead]);
      } catch (err) {
        this.logger.warn(
          { err: (err as Error).message },
          this.revoked
            ? 'could not refresh the revoked-token list; keeping the last one'
            : 'could not read the revoked-token list yet; tokens are refused (503) until it is read',
        );
      } finally {
        this.refreshing = undefined;
        this.revokedDuringRead.clear();
        this.erasedDuringRead.clear();
      }
    })();
    return this.refreshing;
  }

  /**
   * One read now (resolves when it has succeeded or failed, never rejects), then one every pollMs;
   * until a read has succeeded (the database may be down at start-up), one every second.
   */
  async start(): Promise<void> {
    const tick = async () => {
      await this.refresh();
      if (this.stopped) return;
      this.timer = setTimeout(() => void tick(), this.revoked ? this.pollMs : Math.min(1_000, this.pollMs));
      this.timer.unref();
    };
    await tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** What a service that verifies tokens runs: the key set from its file and the revocation list. */
export async function startTokenVerification(opts: { jwksFile: string; knex: Knex; logger: Logger; pollMs?: number }) {
  const keys = readKeySetFile(opts.jwksFile);
  const revocations = new RevocationList(opts.knex, opts.logger, opts.pollMs);
  // One read is attempted before the service takes calls; if it fails (database down), tokens are
  // refused with 503 / UNAVAILABLE until a later read succeeds.
  await revocations.start();
  const verifier = createTokenVerifier({ keys, revocations });
  opts.logger.info({ keys: keys.keys.map((k) => k.kid) }, 'verifying tokens with these keys');
  return { verifier, revocations, keys, stop: () => revocations.stop() };
}
