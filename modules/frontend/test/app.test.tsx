import { beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import { calledUrls, defaultApi, ORGANIZER_TOKEN, organizerMe, persons, stubApi } from './fixtures';
import { TOKEN_KEY } from '../src/session';

// Leaflet needs real layout; the map is exercised by the browser test (test/browser).
vi.mock('../src/MapView', () => ({
  MapView: (p: { pings: unknown[]; highlightedId: number | null }) => (
    <div data-testid="map" data-pings={p.pings.length} data-highlighted={String(p.highlightedId)} />
  ),
}));

const connectionCalls = (mock: ReturnType<typeof stubApi>) => calledUrls(mock).filter((u) => u.pathname.endsWith('/connection'));

// Signed in as an organizer (sign-in itself: auth.test.tsx).
beforeEach(() => window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN));

describe('people list', () => {
  it('lists every person with name and company', async () => {
    stubApi(defaultApi);
    render(<App apiBaseUrl="" />);
    expect(await screen.findByText('Loading people…')).toBeTruthy();
    const list = await screen.findByRole('listbox', { name: 'People' });
    const options = within(list).getAllByRole('option');
    expect(options).toHaveLength(3);
    expect(options[1]!.textContent).toContain('Taco Fargo');
    expect(options[1]!.textContent).toContain('Alpha Omega Upholstery');
  });

  it('filters by name or company through the labelled search box', async () => {
    stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await screen.findByRole('listbox', { name: 'People' });
    await user.type(screen.getByLabelText('Search people'), 'usda');
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['Frank ShaderUSDA']);
    await user.clear(screen.getByLabelText('Search people'));
    await user.type(screen.getByLabelText('Search people'), 'nobody');
    expect(screen.queryByRole('option')).toBeNull();
    expect(screen.getByText(/No one matches/)).toBeTruthy();
  });

  it('selects a person by click and by keyboard, marking aria-selected', async () => {
    const mock = stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await screen.findByRole('listbox', { name: 'People' });
    await user.click(screen.getByRole('option', { name: /Taco Fargo/ }));
    expect(screen.getByRole('option', { name: /Taco Fargo/ }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('option', { name: /Pam Trexler/ }).getAttribute('aria-selected')).toBe('false');
    expect(await screen.findByRole('heading', { name: 'Connections of Taco Fargo' })).toBeTruthy();
    expect(connectionCalls(mock).at(-1)!.pathname).toBe('/api/persons/5/connection');

    // Keyboard: the selected option has focus, ArrowDown moves the selection.
    screen.getByRole('option', { name: /Taco Fargo/ }).focus();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByRole('option', { name: /Frank Shader/ }).getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(screen.getByRole('option', { name: /Frank Shader/ }));
    await waitFor(() => expect(connectionCalls(mock).at(-1)!.pathname).toBe('/api/persons/6/connection'));
    await user.keyboard('{ArrowUp}{Enter}');
    expect(screen.getByRole('option', { name: /Taco Fargo/ }).getAttribute('aria-selected')).toBe('true');
  });
});

describe('connections', () => {
  it('shows the grouped connections with company, dates, count and closest distance; clicking highlights', async () => {
    stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    const list = await screen.findByRole('list', { name: 'Connections' });
    const row = within(list).getByRole('button', { name: /Pam Trexler/ });
    expect(row.textContent).toContain('Hampton, Hampton and McQuill');
    expect(row.textContent).toContain('first met 2020-08-15 10:37:06 UTC');
    expect(row.textContent).toContain('last met 2020-08-18 10:37:06 UTC');
    expect(row.textContent).toContain('2 matches');
    expect(row.textContent).toContain('closest 0.00 m');
    await waitFor(() => expect(screen.getByTestId('map').dataset.pings).toBe('1'));
    await user.click(row);
    expect(row.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('map').dataset.highlighted).toBe('1');
  });

  it('asks with the default parameters, then with what the controls say', async () => {
    const mock = stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="http://api.example" />);
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    await waitFor(() => expect(connectionCalls(mock)).toHaveLength(1));
    const first = connectionCalls(mock)[0]!;
    expect(first.origin).toBe('http://api.example');
    expect(Object.fromEntries(first.searchParams)).toEqual({ start_date: '2020-01-01', end_date: '2020-12-30', distance: '5', group_by: 'person' });

    const distance = screen.getByLabelText('Distance (m)');
    await user.clear(distance);
    await user.type(distance, '250');
    await user.type(screen.getByLabelText('Time window (minutes, optional)'), '30');
    const start = screen.getByLabelText('Start date');
    await user.clear(start);
    await user.type(start, '2020-08-01');
    await waitFor(() => {
      const last = connectionCalls(mock).at(-1)!;
      expect(Object.fromEntries(last.searchParams)).toEqual({
        start_date: '2020-08-01',
        end_date: '2020-12-30',
        distance: '250',
        group_by: 'person',
        time_window: '30',
      });
    });
    const locations = calledUrls(mock)
      .filter((u) => u.pathname.endsWith('/locations'))
      .at(-1)!;
    expect(Object.fromEntries(locations.searchParams)).toEqual({ start_date: '2020-08-01', end_date: '2020-12-30' });
  });

  it('does not ask the API while a control is invalid, and says why', async () => {
    const mock = stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    await waitFor(() => expect(connectionCalls(mock)).toHaveLength(1));
    const distance = screen.getByLabelText('Distance (m)');
    await user.clear(distance);
    await user.type(distance, '20000');
    expect(screen.getByText(/Distance must be more than 0 and at most 10000 m/)).toBeTruthy();
    expect(connectionCalls(mock).every((u) => Number(u.searchParams.get('distance')) <= 10000)).toBe(true);
  });

  it('shows the empty state when nobody was met', async () => {
    stubApi(defaultApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('option', { name: /Frank Shader/ }));
    expect(await screen.findByText('No connections in this range')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('errors', () => {
  it('shows an alert when the people cannot be loaded', async () => {
    stubApi((url) =>
      url.pathname === '/api/me'
        ? { body: organizerMe() }
        : { status: 503, body: { title: 'Service Unavailable', status: 503, detail: 'database unreachable' } },
    );
    render(<App apiBaseUrl="" />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Could not load people');
    expect(alert.textContent).toContain('503: database unreachable');
  });

  it('shows an alert when the connections fail, keeping the people list', async () => {
    stubApi((url) =>
      url.pathname === '/api/me'
        ? { body: organizerMe() }
        : url.pathname === '/api/persons'
          ? { body: persons }
          : { status: 502, body: { title: 'Bad Gateway', status: 502, detail: 'person-api is unreachable' } },
    );
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Could not load connections. The API answered 502: person-api is unreachable.');
    expect(screen.getAllByRole('option')).toHaveLength(3);
  });

  it('shows an alert when the network fails', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))),
    );
    render(<App apiBaseUrl="" />);
    expect((await screen.findByRole('alert')).textContent).toContain('The API cannot be reached (Failed to fetch)');
  });
});
