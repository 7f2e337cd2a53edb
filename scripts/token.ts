/**
 * `npm run --silent token -- --role organizer [--ttl 12h] [--name NAME]` prints an organizer token
 * for the local stack (signed with .udaconnect/auth/signing-key.json, or AUTH_SIGNING_KEY_FILE,
 * or --signing-key-file). Attendee tokens belong to a device: POST /api/persons/{id}/devices.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { organizerTokens, parseDuration } from '@udaconnect/common';
import { DEFAULT_AUTH_DIR, ensureKeys } from './auth-keys';

export const MAX_ORGANIZER_TTL_SECONDS = 7 * 86_400;

const USAGE = `usage: npm run --silent token -- --role organizer [--ttl 12h] [--name NAME] [--signing-key-file FILE]
  --role              organizer (attendee tokens come from POST /api/persons/{id}/devices)
  --ttl               lifetime: 90s, 15m, 12h, 7d (default 12h, at most 7d)
  --name              who the token is for, shown in logs (default: $USER)
  --signing-key-file  default: $AUTH_SIGNING_KEY_FILE, else .udaconnect/auth/signing-key.json`;

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        role: { type: 'string' },
        ttl: { type: 'string', default: '12h' },
        name: { type: 'string' },
        'signing-key-file': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.role !== 'organizer') {
    throw new Error(
      values.role === 'attendee'
        ? 'attendee tokens are issued per device, so they can be revoked: POST /api/persons/{id}/devices with an organizer token'
        : `--role must be organizer\n${USAGE}`,
    );
  }
  const ttl = parseDuration(values.ttl);
  if (ttl > MAX_ORGANIZER_TTL_SECONDS) throw new Error('--ttl may be at most 7d for an organizer token');
  let keyFile = values['signing-key-file'] ?? process.env.AUTH_SIGNING_KEY_FILE;
  if (!keyFile) {
    await ensureKeys(DEFAULT_AUTH_DIR);
    keyFile = resolve(DEFAULT_AUTH_DIR, 'signing-key.json');
  }
  const organizer = await organizerTokens(keyFile);
  const name = (values.name ?? process.env.USER ?? 'organizer').replace(/[^\w.@-]/g, '').slice(0, 64) || 'organizer';
  const { token, expiresAt } = await organizer(name, ttl);
  process.stdout.write(`${token}\n`);
  process.stderr.write(`[token] organizer token for ${name}, valid until ${expiresAt.toISOString()}\n`);
}

main().catch((err) => {
  process.stderr.write(`token: ${(err as Error).message}\n`);
  process.exit(1);
});
