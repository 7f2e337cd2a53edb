/** Live "you just met" toasts: the meeting messages, the stream's life on the page, the toasts themselves. */
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import { meetingSentence, parseMeeting, Toasts, type LiveMeeting, type Toast } from '../src/LiveMeetings';
import { TOKEN_KEY } from '../src/session';
import { ATTENDEE_TOKEN, bearer, inAnHour, ORGANIZER_TOKEN, persons, type Handler } from './fixtures';
import { eventApi } from './event-fixtures';
import { meetingEvent, scriptedStream, type ScriptedStream } from './sse-stream';

vi.mock('../src/MapView', () => ({ MapView: () => <div data-testid="map" /> }));

const ada = { id: 9, first_name: 'Ada', last_name: 'Lovelace' };
const atBooth = {
  other_person: ada,
  at: '2026-05-05T10:31:05Z',
  place: { id: 13, name: 'Booth 3' },
  latitude: 37.78411,
  longitude: -122.40171,
  distance_meters: 1.24,
};
const inTheOpen = { ...atBooth, at: '2026-05-05T10:40:00Z', place: null, latitude: 37.784123456, longitude: -122.401712345 };

describe('parseMeeting and meetingSentence', () => {
  it('"You just met Ada Lovelace at Booth 3"; the coordinates when the meeting was in no place', () => {
    const m = parseMeeting(JSON.stringify(atBooth))!;
    expect(meetingSentence(m, null)).toBe('You just met Ada Lovelace at Booth 3');
    expect(meetingSentence(m, 'Taco Fargo')).toBe('Taco Fargo just met Ada Lovelace at Booth 3');
    expect(meetingSentence(parseMeeting(JSON.stringify(inTheOpen))!, null)).toBe('You just met Ada Lovelace at 37.78412, -122.40171');
    // Coordinates as decimal text, as the API writes them elsewhere.
    expect(parseMeeting(JSON.stringify({ ...inTheOpen, latitude: '37.5', longitude: '-122.25' }))!.latitude).toBe(37.5);
    // Neither place nor coordinates.
    expect(meetingSentence(parseMeeting(JSON.stringify({ ...inTheOpen, latitude: null }))!, null)).toBe('You just met Ada Lovelace');
  });

  it('refuses what is not a meeting', () => {
    for (const bad of [
      'not json',
      '[]',
      'null',
      JSON.stringify({ at: 'x' }),
      JSON.stringify({ ...atBooth, other_person: { id: '9', first_name: 'A', last_name: 'B' } }),
      JSON.stringify({ ...atBooth, at: 5 }),
    ]) {
      expect({ bad, parsed: parseMeeting(bad) }).toEqual({ bad, parsed: null });
    }
  });
});

/** fetch: the live stream of any person is a scripted stream; everything else goes to `handler`. */
function stubWithLive(handler: Handler, live?: (url: URL, init: RequestInit) => Response | undefined) {
  const streams: Array<{ url: URL; stream: ScriptedStream; init: RequestInit }> = [];
  const mock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input, 'http://test.local');
    if (url.pathname.endsWith('/meetings/live')) {
      const answer = live?.(url, init);
      if (answer) return answer;
      const stream = scriptedStream(init.signal);
      streams.push({ url, stream, init });
      return stream.response;
    }
    const { status = 200, body } = await handler(url, init);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', mock);
  return streams;
}

const attendeeApi: Handler = (url, init) =>
  url.pathname === '/api/me' && bearer(init) === `Bearer ${ATTENDEE_TOKEN}`
    ? { body: { role: 'attendee', person_id: 5, expires_at: inAnHour(), person: persons[1] } }
    : eventApi(url, init);
const liveRegion = () => screen.getByRole('log', { name: 'Live meetings' });

describe('live meetings on the page', () => {
  it("an attendee's own stream: a toast per meeting, in the live region, each once; closed on sign-out", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const streams = stubWithLive(attendeeApi);
    render(<App apiBaseUrl="" />);
    // The live region is there before anything is said in it.
    expect((await screen.findByRole('log', { name: 'Live meetings' })).getAttribute('aria-live')).toBe('polite');
    expect(liveRegion().textContent).toBe('');
    await waitFor(() => expect(streams).toHaveLength(1));
    expect(streams[0]!.url.pathname).toBe('/api/persons/5/meetings/live');
    expect(bearer(streams[0]!.init)).toBe(`Bearer ${ATTENDEE_TOKEN}`);
    expect(await screen.findByText('Live meetings: on. A note pops up when you meet someone.')).toBeTruthy();

    streams[0]!.stream.send(`: keep-alive\n\n${meetingEvent(atBooth)}`);
    expect((await within(liveRegion()).findByText('You just met Ada Lovelace at Booth 3')).closest('.toast')!.textContent).toBe(
      'You just met Ada Lovelace at Booth 310:31:05 UTC · 1.2 m apart×',
    );
    // The same meeting again (after a reconnection, say) is not shown twice; one in no place shows where.
    streams[0]!.stream.send(meetingEvent(atBooth) + meetingEvent(inTheOpen) + 'event: other\ndata: {}\n\n' + meetingEvent('garbage'));
    await within(liveRegion()).findByText('You just met Ada Lovelace at 37.78412, -122.40171');
    expect(within(liveRegion()).getAllByText(/just met/)).toHaveLength(2);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    expect(streams[0]!.stream.closedByClient).toBe(true);
    expect(screen.queryByRole('log')).toBeNull();
  });

  it("an organizer follows the selected person's stream, naming them; choosing another person closes it and opens theirs", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    const streams = stubWithLive(eventApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    await waitFor(() => expect(streams).toHaveLength(1));
    expect(await screen.findByText('Live meetings: on. A note pops up when Taco Fargo meets someone.')).toBeTruthy();
    streams[0]!.stream.send(meetingEvent(atBooth));
    expect(await within(liveRegion()).findByText('Taco Fargo just met Ada Lovelace at Booth 3')).toBeTruthy();

    await user.click(screen.getByRole('option', { name: /Pam Trexler/ }));
    await waitFor(() => expect(streams).toHaveLength(2));
    expect(streams[0]!.stream.closedByClient).toBe(true);
    expect(streams[1]!.url.pathname).toBe('/api/persons/1/meetings/live');
    expect(within(liveRegion()).queryByText(/just met/)).toBeNull();
  });

  it('when the server ends the stream, the page says why and connects again', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const streams = stubWithLive(attendeeApi);
    render(<App apiBaseUrl="" />);
    await waitFor(() => expect(streams).toHaveLength(1));
    streams[0]!.stream.send(': connected\n\nevent: end\ndata: {"reason":"UNAVAILABLE: connection-service is down"}\n\n');
    streams[0]!.stream.end();
    expect(await screen.findByText('Live meetings: reconnecting in 1 s. The server ended the stream (UNAVAILABLE: connection-service is down).')).toBeTruthy();
    await waitFor(() => expect(streams).toHaveLength(2), { timeout: 3000 });
    expect(await screen.findByText('Live meetings: on. A note pops up when you meet someone.')).toBeTruthy();
  });

  it('a server whose live meetings are turned off (UNIMPLEMENTED) is not asked again', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const streams = stubWithLive(attendeeApi);
    render(<App apiBaseUrl="" />);
    await waitFor(() => expect(streams).toHaveLength(1));
    streams[0]!.stream.send(': connected\n\nevent: end\ndata: {"reason":"UNIMPLEMENTED: live meetings are turned off on this server"}\n\n');
    streams[0]!.stream.end();
    expect(
      await screen.findByText('Live meetings are off. The server does not offer them (UNIMPLEMENTED: live meetings are turned off on this server).'),
    ).toBeTruthy();
    await new Promise((r) => setTimeout(r, 1500));
    expect(streams).toHaveLength(1);
  });

  it('a 401 on the stream signs out; a 403 only turns live meetings off, saying why', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    const problem = (status: number, detail: string) =>
      new Response(JSON.stringify({ status, detail }), { status, headers: { 'content-type': 'application/problem+json' } });
    stubWithLive(attendeeApi, () => problem(403, 'not for you'));
    const { unmount } = render(<App apiBaseUrl="" />);
    expect(await screen.findByText('Live meetings are off. The API answered 403: not for you.')).toBeTruthy();
    expect(screen.getByRole('region', { name: 'You' })).toBeTruthy();
    unmount();

    stubWithLive(attendeeApi, () => problem(401, 'token revoked'));
    render(<App apiBaseUrl="" />);
    expect((await screen.findByRole('alert')).textContent).toContain('Your session expired or the token was revoked');
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });
});

describe('Toasts', () => {
  const toast = (id: number, sentence: string): Toast => ({ id, sentence, meeting: parseMeeting(JSON.stringify(atBooth)) as LiveMeeting });

  it('each vanishes after its time, unless the pointer rests on it; Dismiss removes it at once', async () => {
    function Host({ initial }: { initial: Toast[] }) {
      const [list, setList] = useState(initial);
      return <Toasts toasts={list} ttlMs={80} onDismiss={(id) => setList((l) => l.filter((t) => t.id !== id))} />;
    }
    render(
      <Host
        initial={[
          toast(1, 'You just met Ada Lovelace at Booth 3'),
          toast(2, 'You just met Pam Trexler at Booth 1'),
          toast(3, 'You just met Frank Shader at Booth 2'),
        ]}
      />,
    );
    const region = screen.getByRole('log', { name: 'Live meetings' });
    expect(within(region).getAllByText(/just met/)).toHaveLength(3);
    await userEvent.setup().click(within(region).getAllByRole('button', { name: 'Dismiss' })[2]!);
    expect(within(region).queryByText(/Frank Shader/)).toBeNull();
    fireEvent.mouseEnter(
      within(region)
        .getByText(/Pam Trexler/)
        .closest('.toast')!,
    );
    await waitFor(() => expect(within(region).queryByText(/Ada Lovelace/)).toBeNull());
    await act(() => new Promise((r) => setTimeout(r, 150)));
    expect(within(region).getByText(/Pam Trexler/)).toBeTruthy();
    fireEvent.mouseLeave(
      within(region)
        .getByText(/Pam Trexler/)
        .closest('.toast')!,
    );
    await waitFor(() => expect(within(region).queryByText(/just met/)).toBeNull());
    expect(region.isConnected).toBe(true);
  });
});
