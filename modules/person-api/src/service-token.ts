/**
 * person-api's own token for connection-service, used only for calls that carry no caller token
 * (legacy anonymous reads). Short-lived and renewed before it runs out; it opens nothing on the
 * REST API or ingest (role "service").
 */
import type { TokenSigner } from '@udaconnect/common';

const TTL_SECONDS = 10 * 60;
const RENEW_BEFORE_MS = 2 * 60_000;

export function serviceTokenSource(signer: TokenSigner): () => Promise<string> {
  let current: { token: string; expiresAt: Date } | undefined;
  return async () => {
    if (!current || current.expiresAt.getTime() - Date.now() < RENEW_BEFORE_MS) {
      current = await signer.sign({ role: 'service', subject: 'service:person-api', ttlSeconds: TTL_SECONDS });
    }
    return current.token;
  };
}
