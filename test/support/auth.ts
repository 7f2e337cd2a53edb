/**
 * Test tokens: one signing key per jest worker, written where services read keys from (the
 * AUTH_* settings in `authEnv`), and tokens minted with it the way person-api and `npm run
 * token` do. Attendee tokens minted here have no device row; tests of revocation go through
 * POST /api/persons/{id}/devices.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { bearerInterceptor, createTokenSigner, generateSigningKey, publicJwk, type SigningKey, type TokenSigner } from '@udaconnect/common';

export interface TestAuth {
  key: SigningKey;
  signer: TokenSigner;
  /** AUTH_JWKS_FILE, AUTH_SIGNING_KEY_FILE and a quick REVOCATION_POLL_MS, for a service's config. */
  env: { AUTH_JWKS_FILE: string; AUTH_SIGNING_KEY_FILE: string; REVOCATION_POLL_MS: string };
  /** An organizer token valid for an hour. */
  organizer: string;
  attendee(personId: number, opts?: { deviceId?: string; ttlSeconds?: number }): Promise<string>;
  /** gRPC client options that send `token` on every call. */
  grpcOptions(token?: string): { interceptors: ReturnType<typeof bearerInterceptor>[] };
}

let shared: Promise<TestAuth> | undefined;

async function create(): Promise<TestAuth> {
  const dir = mkdtempSync(join(tmpdir(), 'udaconnect-test-auth-'));
  const key = await generateSigningKey();
  const env = { AUTH_JWKS_FILE: join(dir, 'jwks.json'), AUTH_SIGNING_KEY_FILE: join(dir, 'signing-key.json'), REVOCATION_POLL_MS: '250' };
  writeFileSync(env.AUTH_JWKS_FILE, JSON.stringify({ keys: [publicJwk(key)] }));
  writeFileSync(env.AUTH_SIGNING_KEY_FILE, JSON.stringify(key), { mode: 0o600 });
  const signer = await createTokenSigner(key);
  const { token: organizer } = await signer.sign({ role: 'organizer', subject: 'organizer:test', ttlSeconds: 3600 });
  return {
    key,
    signer,
    env,
    organizer,
    async attendee(personId, opts = {}) {
      const deviceId = opts.deviceId ?? randomUUID();
      const { token } = await signer.sign({ role: 'attendee', subject: `device:${deviceId}`, personId, deviceId, ttlSeconds: opts.ttlSeconds ?? 3600 });
      return token;
    },
    grpcOptions(token = organizer) {
      return { interceptors: [bearerInterceptor(token)] };
    },
  };
}

/** The worker's test keys (made once per jest worker). */
export function testAuth(): Promise<TestAuth> {
  shared ??= create();
  return shared;
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
