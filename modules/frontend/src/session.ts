/**
 * The page's sign-in: a bearer token kept in sessionStorage (this tab only, gone when it closes),
 * taken from a pasted value or from a sign-in link `…/#token=<JWT>` (the fragment never reaches a
 * server or a Referer header, and is removed from the address bar as soon as it is read).
 */
export const TOKEN_KEY = 'udaconnect.token';

export const EXPIRED_MESSAGE = 'Your session expired or the token was revoked. Sign in again.';

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lives only as long as the page's state
  }
}

export function readToken(): string | null {
  const t = storage()?.getItem(TOKEN_KEY);
  return t ? t : null;
}

export function storeToken(token: string): void {
  storage()?.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  storage()?.removeItem(TOKEN_KEY);
}

/** Three base64url parts: what a JWT looks like (the API decides whether it is valid). */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A pasted value → the token, or a message saying what is wrong. Accepts "Bearer …" and a whole sign-in link. */
export function parsePastedToken(value: string): { token: string } | { problem: string } {
  let v = value.trim();
  const fromLink = /#(?:.*&)?token=([^&\s]+)/.exec(v);
  if (fromLink) v = decodeURIComponent(fromLink[1]!);
  v = v.replace(/^bearer\s+/i, '').trim();
  if (v === '') return { problem: 'Paste a token first.' };
  if (!JWT.test(v)) return { problem: 'That is not a token: a token has three parts separated by dots.' };
  return { token: v };
}

const BAD_LINK_MESSAGE = 'The sign-in link does not hold a valid token. Paste a token instead.';

export type FragmentResult = { token: string } | { problem: string } | null;

/**
 * Reads `#token=…` from the address, stores the token and removes the fragment from the address
 * bar and the current history entry. null when the address carries no token.
 */
export function takeTokenFromFragment(): FragmentResult {
  const hash = window.location.hash;
  if (!hash.startsWith('#')) return null;
  const raw = new URLSearchParams(hash.slice(1)).get('token');
  if (raw === null) return null;
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}`);
  const parsed = parsePastedToken(raw);
  if (!('token' in parsed)) return { problem: BAD_LINK_MESSAGE };
  storeToken(parsed.token);
  return parsed;
}
