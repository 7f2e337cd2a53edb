import { describe, expect, it, vi } from 'vitest';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import type { Me } from '../src/api';
import { TOKEN_KEY } from '../src/session';
import {
  ATTENDEE_TOKEN,
  bearer,
  calledAuth,
  calledUrls,
  connections,
  defaultApi,
  inAnHour,
  loc,
  ORGANIZER_TOKEN,
  persons,
  stubApi,
  type Handler,
} from './fixtures';

vi.mock('../src/MapView', () => ({
  MapView: (p: { pings: unknown[]; highlightedId: number | null }) => (
    <div data-testid="map" data-pings={p.pings.length} data-highlighted={String(p.highlightedId)} />
  ),
}));

const stored = () => window.sessionStorage.getItem(TOKEN_KEY);
const unauthorized = { status: 401, body: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token expired' } };
const forbidden = { status: 403, body: { type: 'about:blank', title: 'Forbidden', status: 403, detail: 'attendees may not list persons' } };
const attendeeMe = (): Me => ({ role: 'attendee', person_id: 5, expires_at: inAnHour(), person: persons[1]! });

/** The real API's rules, as the page sees them: who the token is and what it may read. */
const roleApi: Handler = (url, init) => {
  const token = bearer(init);
  if (token === `Bearer ${ORGANIZER_TOKEN}`) return defaultApi(url, init);
  if (token !== `Bearer ${ATTENDEE_TOKEN}`) return unauthorized;
  if (url.pathname === '/api/me') return { body: attendeeMe() };
  if (url.pathname === '/api/persons/5/connection') return { body: connections };
  if (url.pathname === '/api/persons/5/locations') return { body: [loc(40, 5, '2020-08-15T10:37:06Z')] };
  if (url.pathname === '/api/persons/5') return { body: persons[1] };
  return forbidden;
};

async function signInWithForm(token: string) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText('Access token'), token);
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
  return user;
}

describe('signing in', () => {
  it('shows the sign-in form and calls no API without a token', async () => {
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(screen.getByLabelText('Access token').getAttribute('type')).toBe('password');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(mock).not.toHaveBeenCalled();
  });

  it('signs in with a pasted token: kept in sessionStorage, sent as a bearer token on every call, never with cookies', async () => {
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    const user = await signInWithForm(ORGANIZER_TOKEN);
    expect(stored()).toBe(ORGANIZER_TOKEN);
    expect(await screen.findByRole('listbox', { name: 'People' })).toBeTruthy();
    expect(screen.getByRole('group', { name: 'Signed in' }).textContent).toContain('Signed in as organizer');
    await user.click(screen.getByRole('option', { name: /Taco Fargo/ }));
    await waitFor(() => expect(calledUrls(mock).some((u) => u.pathname === '/api/persons/5/locations')).toBe(true));
    expect(calledUrls(mock)[0]!.pathname).toBe('/api/me');
    expect(calledAuth(mock).every((a) => a === `Bearer ${ORGANIZER_TOKEN}`)).toBe(true);
    for (const [, init] of mock.mock.calls) expect((init as RequestInit).credentials).toBe('omit');
    expect(screen.queryByLabelText('Access token')).toBeNull();
  });

  it('takes "Bearer …" and a whole sign-in link in the form, and refuses what is no token', async () => {
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    await signInWithForm('not a token');
    expect(screen.getByRole('status').textContent).toContain('That is not a token');
    expect(stored()).toBeNull();
    expect(mock).not.toHaveBeenCalled();

    await userEvent.setup().clear(screen.getByLabelText('Access token'));
    await signInWithForm(`http://localhost:30000/#token=${ORGANIZER_TOKEN}`);
    expect(await screen.findByRole('listbox', { name: 'People' })).toBeTruthy();
    expect(stored()).toBe(ORGANIZER_TOKEN);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    await signInWithForm(`Bearer ${ATTENDEE_TOKEN}`);
    expect(await screen.findByRole('region', { name: 'You' })).toBeTruthy();
    expect(stored()).toBe(ATTENDEE_TOKEN);
  });

  it('signs in from the sign-in link #token=…, then removes it from the address bar', async () => {
    window.history.replaceState({ kept: true }, '', `/?x=1#token=${ORGANIZER_TOKEN}`);
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    expect(window.location.hash).toBe('');
    expect(window.location.href).not.toContain(ORGANIZER_TOKEN);
    expect(window.location.search).toBe('?x=1');
    expect(window.history.state).toEqual({ kept: true });
    expect(stored()).toBe(ORGANIZER_TOKEN);
    expect(screen.queryByRole('form', { name: 'Sign in' })).toBeNull();
    expect(await screen.findByRole('listbox', { name: 'People' })).toBeTruthy();
    expect(calledAuth(mock)[0]).toBe(`Bearer ${ORGANIZER_TOKEN}`);
  });

  it('a sign-in link opened in a signed-in tab switches to its token', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    await screen.findByRole('listbox', { name: 'People' });
    act(() => {
      window.history.replaceState(null, '', `/#token=${ATTENDEE_TOKEN}`);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(await screen.findByRole('region', { name: 'You' })).toBeTruthy();
    expect(stored()).toBe(ATTENDEE_TOKEN);
    expect(window.location.hash).toBe('');
  });

  it('a sign-in link without a usable token shows the form with a message', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    window.history.replaceState(null, '', '/#token=garbage');
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    expect(screen.getByRole('alert').textContent).toContain('does not hold a valid token');
    expect(window.location.hash).toBe('');
    expect(stored()).toBeNull();
    expect(mock).not.toHaveBeenCalled();
  });

  it('stays signed in across a reload of the tab (the token is in sessionStorage)', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    expect(await screen.findByRole('listbox', { name: 'People' })).toBeTruthy();
    expect(calledAuth(mock)[0]).toBe(`Bearer ${ORGANIZER_TOKEN}`);
  });
});

describe('signing out and expired sessions', () => {
  it('sign-out forgets the token and shows the form', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    await screen.findByRole('listbox', { name: 'People' });
    const calls = mock.mock.calls.length;
    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    expect(stored()).toBeNull();
    expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(mock.mock.calls.length).toBe(calls);
  });

  it('a token the API refuses (401) is dropped: the form says the session expired or was revoked', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'eyJh.revoked.token');
    stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Your session expired or the token was revoked');
    expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(stored()).toBeNull();
  });

  it('a 401 in the middle of a session (token revoked after sign-in) signs out with the message', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    let revoked = false;
    stubApi((url, init) => (revoked ? unauthorized : roleApi(url, init)));
    render(<App apiBaseUrl="" />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    await screen.findByRole('list', { name: 'Connections' });
    revoked = true;
    await user.click(screen.getByRole('option', { name: /Frank Shader/ }));
    expect((await screen.findByRole('alert')).textContent).toContain('Your session expired or the token was revoked');
    expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
    expect(stored()).toBeNull();
  });

  it('signs out by itself when the token expires', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    stubApi((url, init) =>
      url.pathname === '/api/me' ? { body: { role: 'organizer', person_id: null, expires_at: new Date(Date.now() + 300).toISOString() } } : roleApi(url, init),
    );
    render(<App apiBaseUrl="" />);
    await screen.findByRole('listbox', { name: 'People' });
    expect((await screen.findByRole('alert', {}, { timeout: 3_000 })).textContent).toContain('Your session expired');
    expect(stored()).toBeNull();
  });

  it('a 403 or an API outage is an error banner, not a sign-out', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    stubApi((url, init) => (url.pathname === '/api/persons' ? forbidden : roleApi(url, init)));
    const { unmount } = render(<App apiBaseUrl="" />);
    expect((await screen.findByRole('alert')).textContent).toContain('Could not load people. The API answered 403: attendees may not list persons.');
    expect(stored()).toBe(ORGANIZER_TOKEN);
    unmount();

    stubApi(() => ({ status: 503, body: { title: 'Service Unavailable', status: 503, detail: 'database unreachable' } }));
    render(<App apiBaseUrl="" />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Could not check your sign-in. The API answered 503: database unreachable.');
    expect(within(alert).getByRole('button', { name: 'Retry' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeTruthy();
    expect(stored()).toBe(ORGANIZER_TOKEN);
  });

  it('a token of another role (a service token) cannot use the page', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    stubApi(() => ({ body: { role: 'service', person_id: null, expires_at: inAnHour() } }));
    render(<App apiBaseUrl="" />);
    expect((await screen.findByRole('alert')).textContent).toContain('“service”, which cannot use this page');
    expect(stored()).toBeNull();
  });
});

describe('what each role sees', () => {
  it('the organizer sees everyone and picks whom to look at', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    const mock = stubApi(roleApi);
    render(<App apiBaseUrl="" />);
    const list = await screen.findByRole('listbox', { name: 'People' });
    expect(within(list).getAllByRole('option')).toHaveLength(3);
    expect(screen.getByLabelText('Search people')).toBeTruthy();
    expect(screen.queryByRole('region', { name: 'You' })).toBeNull();
    expect(calledUrls(mock).map((u) => u.pathname)).toEqual(['/api/me', '/api/persons']);
    expect(screen.getByText('Select a person to see whom they met.')).toBeTruthy();
  });

  it('an attendee sees themself, selected, with their connections and pings; no people list', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const mock = stubApi(roleApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    const you = await screen.findByRole('region', { name: 'You' });
    expect(you.textContent).toContain('Taco Fargo');
    expect(you.textContent).toContain('Alpha Omega Upholstery');
    expect(screen.getByRole('group', { name: 'Signed in' }).textContent).toContain('Signed in as attendee Taco Fargo');
    expect(screen.getByRole('heading', { name: 'Connections of Taco Fargo' })).toBeTruthy();
    const row = within(await screen.findByRole('list', { name: 'Connections' })).getByRole('button', { name: /Pam Trexler/ });
    expect(row.textContent).toContain('Hampton, Hampton and McQuill');
    await waitFor(() => expect(screen.getByTestId('map').dataset.pings).toBe('1'));
    await user.click(row);
    expect(screen.getByTestId('map').dataset.highlighted).toBe('1');
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(screen.queryByLabelText('Search people')).toBeNull();
    const paths = calledUrls(mock).map((u) => u.pathname);
    expect(paths).not.toContain('/api/persons');
    // …and their own live meetings (the stub answers 404: the page stops asking, quietly).
    expect(new Set(paths)).toEqual(new Set(['/api/me', '/api/persons/5/connection', '/api/persons/5/locations', '/api/persons/5/meetings/live']));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('an attendee whose /api/me carries no person record reads their own person', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const mock = stubApi((url, init) => (url.pathname === '/api/me' ? { body: { ...attendeeMe(), person: undefined } } : roleApi(url, init)));
    render(<App apiBaseUrl="" />);
    expect((await screen.findByRole('region', { name: 'You' })).textContent).toContain('Taco Fargo');
    expect(calledUrls(mock).map((u) => u.pathname)).toContain('/api/persons/5');
  });
});
