/** person-api's side of authentication: verify every caller, sign device tokens, publish the keys. */
import { createTokenSigner, readSigningKeyFile, startTokenVerification, type Knex, type Logger } from '@udaconnect/common';
import type { PersonApiAuth } from './app';
import type { PersonApiConfig } from './config';

type AuthSettings = Pick<PersonApiConfig, 'AUTH_JWKS_FILE' | 'AUTH_SIGNING_KEY_FILE' | 'REVOCATION_POLL_MS' | 'DEVICE_TOKEN_TTL' | 'LEGACY_ANONYMOUS_READS'>;

export async function startPersonApiAuth(config: AuthSettings, knex: Knex, logger: Logger): Promise<PersonApiAuth & { stop(): void }> {
  const signingKey = readSigningKeyFile(config.AUTH_SIGNING_KEY_FILE);
  const verification = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex, logger, pollMs: config.REVOCATION_POLL_MS });
  const keys = verification.keys;
  if (!keys.keys.some((k) => k.kid === signingKey.kid)) {
    verification.stop();
    throw new Error(`the signing key ${signingKey.kid} is not in ${config.AUTH_JWKS_FILE}: tokens issued now would be refused`);
  }
  if (config.LEGACY_ANONYMOUS_READS) {
    logger.warn(
      'LEGACY_ANONYMOUS_READS is on: anyone may list persons, read a person and their connections without a token. ' +
        'A migration aid for the old page only; turn it off once the new page is in use.',
    );
  }
  return {
    verifier: verification.verifier,
    revocations: verification.revocations,
    signer: await createTokenSigner(signingKey),
    keys,
    deviceTtlSeconds: config.DEVICE_TOKEN_TTL,
    legacyAnonymousReads: config.LEGACY_ANONYMOUS_READS,
    stop: verification.stop,
  };
}
