/**
 * Token signing keys for the local stack and for K3s:
 *   node --import tsx scripts/auth-keys.ts ensure [--dir DIR]   keys if missing (npm start/test do this)
 *   node --import tsx scripts/auth-keys.ts rotate [--dir DIR]   a new signing key; the previous public key stays valid
 * DIR (default .udaconnect/auth) gets signing-key.json (private, mode 600: person-api and the
 * token command sign with it) and jwks.json (public keys: every service verifies with it).
 */
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKey, publicJwk, readKeySetFile, readSigningKeyFile, rotatedKeySet } from '@udaconnect/common';

export const DEFAULT_AUTH_DIR = join(__dirname, '..', '.udaconnect', 'auth');

function writeAtomically(file: string, value: unknown, mode: number) {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

export async function ensureKeys(dir: string): Promise<'created' | 'kept'> {
  const signing = join(dir, 'signing-key.json');
  const jwks = join(dir, 'jwks.json');
  if (existsSync(signing) && existsSync(jwks)) {
    // Both must still parse, and the signing key must be in the set.
    const key = readSigningKeyFile(signing);
    if (!readKeySetFile(jwks).keys.some((k) => k.kid === key.kid)) throw new Error(`${jwks} does not hold the public key of ${signing}`);
    return 'kept';
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = await generateSigningKey();
  writeAtomically(signing, key, 0o600);
  writeAtomically(jwks, { keys: [publicJwk(key)] }, 0o644);
  return 'created';
}

export async function rotateKeys(dir: string): Promise<{ kid: string; keys: string[] }> {
  await ensureKeys(dir);
  const jwksFile = join(dir, 'jwks.json');
  const next = await generateSigningKey();
  const set = rotatedKeySet(readKeySetFile(jwksFile), next);
  // Public set first: a verifier that reloads between the two writes already knows the new key.
  writeAtomically(jwksFile, set, 0o644);
  writeAtomically(join(dir, 'signing-key.json'), next, 0o600);
  return { kid: next.kid, keys: set.keys.map((k) => k.kid!) };
}

async function main() {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { dir: { type: 'string' } } });
  const dir = resolve(values.dir ?? DEFAULT_AUTH_DIR);
  switch (positionals[0]) {
    case 'ensure': {
      const what = await ensureKeys(dir);
      if (what === 'created') process.stderr.write(`[auth] new token signing key in ${dir}\n`);
      return;
    }
    case 'rotate': {
      const { kid, keys } = await rotateKeys(dir);
      process.stderr.write(`[auth] signing with ${kid} now; verification keys: ${keys.join(', ')}. Restart the services (or roll the pods) to load them.\n`);
      return;
    }
    default:
      process.stderr.write('usage: node --import tsx scripts/auth-keys.ts ensure|rotate [--dir DIR]\n');
      process.exit(2);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`auth-keys: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
