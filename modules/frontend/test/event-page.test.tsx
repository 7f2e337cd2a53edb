/** The Event view: picker, floor plan, talks, a person's timeline and whom they shared places and talks with. */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import { defaultEvent } from '../src/EventView';
import { timelineItems } from '../src/Timeline';
import { TOKEN_KEY } from '../src/session';
import { ATTENDEE_TOKEN, bearer, calledUrls, inAnHour, ORGANIZER_TOKEN, persons, stubApi, type Handler } from './fixtures';
import { eventApi, events, NOW, tacoVisits, venue } from './event-fixtures';

vi.mock('../src/MapView', () => ({ MapView: () => <div data-testid="map" /> }));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

const signIn = (token = ORGANIZER_TOKEN) => window.sessionStorage.setItem(TOKEN_KEY, token);
const attendeeApi: Handler = (url, init) =>
  url.pathname === '/api/me' && bearer(init) === `Bearer ${ATTENDEE_TOKEN}`
    ? { body: { role: 'attendee', person_id: 5, expires_at: inAnHour(), person: persons[1] } }
    : eventApi(url, init);
const paths = (mock: ReturnType<typeof stubApi>) => calledUrls(mock).map((u) => `${u.pathname}${u.search}`);

async function openEventTab() {
  const user = userEvent.setup();
  render(<App apiBaseUrl="" />);
  await user.click(await screen.findByRole('tab', { name: 'Event' }));
  return user;
}
const planLabels = () => [...screen.getByRole('group', { name: /^Floor plan of/ }).querySelectorAll('text')].map((t) => t.textContent);

describe('defaultEvent', () => {
  const at = (iso: string) => Date.parse(iso);
  it('the event running now, else the latest that has started, else the next to come', () => {
    expect(defaultEvent(events, at('2026-05-05T10:30:00Z'))?.id).toBe(2);
    expect(defaultEvent(events, at('2026-06-01T00:00:00Z'))?.id).toBe(2);
    expect(defaultEvent(events, at('2026-09-02T00:00:00Z'))?.id).toBe(3);
    expect(defaultEvent(events, at('2025-01-01T00:00:00Z'))?.id).toBe(1);
    expect(defaultEvent([], at('2025-01-01T00:00:00Z'))).toBeUndefined();
    // Two running: the one that started last.
    const overlap = [...events, { id: 4, name: 'Workshop day', starts_at: '2026-05-05T08:00:00Z', ends_at: '2026-05-05T12:00:00Z' }];
    expect(defaultEvent(overlap, at('2026-05-05T10:30:00Z'))?.id).toBe(4);
  });
});

describe('timelineItems', () => {
  it('visits and talks in one list by time', () => {
    expect(timelineItems(tacoVisits, venue).map((i) => [i.kind, i.name, i.facts])).toEqual([
      ['visit', 'Booth 1', ['1 visit', '15 min']],
      ['talk', 'Keynote', ['in Talk room 1', '40 min inside of 45 min']],
      ['visit', 'Booth 2', ['2 visits', '12.5 min']],
    ]);
  });
});

describe('the Event view (organizer)', () => {
  beforeEach(() => signIn());

  it('tabs: Connections first; Event opens the running event, its floor plan and its talks', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const mock = stubApi(async (url, init) => {
      if (url.pathname === '/api/events') await held;
      return eventApi(url, init);
    });
    render(<App apiBaseUrl="" />);
    const tabs = await screen.findByRole('tablist', { name: 'Views' });
    expect(within(tabs).getByRole('tab', { name: 'Connections' }).getAttribute('aria-selected')).toBe('true');
    expect(paths(mock)).not.toContain('/api/events');
    await userEvent.setup().click(within(tabs).getByRole('tab', { name: 'Event' }));
    expect(screen.getByRole('tab', { name: 'Event' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('tabpanel', { name: 'Event' })).toBeTruthy();
    expect(await screen.findByText('Loading events…')).toBeTruthy();
    release();

    const picker = await screen.findByLabelText('Event', { selector: 'select' });
    expect((picker as HTMLSelectElement).value).toBe('2');
    expect(
      within(picker)
        .getAllByRole('option')
        .map((o) => o.textContent),
    ).toEqual(['Future summit (2026-09-01 – 2026-09-03)', 'UdaConnect demo conference (2026-05-05) · now', 'Old meetup (2025-11-10)']);
    expect(screen.getByRole('heading', { level: 2, name: 'UdaConnect demo conference' })).toBeTruthy();
    expect(screen.getByText('2026-05-05 00:00 – 2026-05-06 00:00 UTC')).toBeTruthy();
    await screen.findByRole('group', { name: 'Floor plan of UdaConnect demo conference' });
    expect(planLabels()).toEqual(['Booth 1', 'Booth 2', 'Talk room 1', 'Coffee lounge']);
    const talks = await screen.findByRole('list', { name: 'Talks' });
    expect(
      within(talks)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['2026-05-05 09:00–09:45 UTC Keynote · Talk room 1', '2026-05-05 10:00–10:45 UTC Scaling reads · Talk room 1']);
    expect(screen.getByText(/Select a person to see their visits and talks/)).toBeTruthy();
    expect(paths(mock).filter((p) => p.includes('/visits') || p.includes('/shared'))).toEqual([]);
  });

  it("a person's timeline (by time, with times and minutes) and whom they shared places and talks with; their places marked on the plan", async () => {
    const mock = stubApi(eventApi);
    const user = await openEventTab();
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    expect(await screen.findByRole('heading', { name: 'Visits and talks of Taco Fargo' })).toBeTruthy();
    const day = await screen.findByRole('list', { name: 'Timeline, 2026-05-05' });
    expect(
      within(day)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual([
      '08:10–08:25 UTCBoothBooth 11 visit15 min',
      '09:00–09:45 UTCTalkKeynotein Talk room 140 min inside of 45 min',
      '09:50–10:20 UTCBoothBooth 22 visits12.5 min',
    ]);
    expect(paths(mock)).toContain('/api/persons/5/visits?event_id=2');
    expect(paths(mock)).toContain('/api/persons/5/shared?event_id=2');

    expect(screen.getByRole('heading', { name: 'Who shared booths and talks with Taco Fargo' })).toBeTruthy();
    const rows = within(await screen.findByRole('list', { name: 'Shared with' })).getAllByRole('button');
    expect(rows.map((r) => r.textContent)).toEqual([
      'Pam TrexlerHampton, Hampton and McQuill3 meetings1 place1 talkPlaces: Booth 2 (booth)Talks: Keynote (09:00 UTC, Talk room 1)',
      'Frank ShaderUSDA1 meeting0 places0 talks',
    ]);

    const g = (id: number) => document.querySelector(`[data-place-id="${id}"]`)!.getAttribute('class');
    await waitFor(() => expect([10, 11, 12, 13].map(g)).toEqual(['place booth visited', 'place booth visited', 'place room', 'place area']));
    // The attended talk is marked in the list of talks.
    expect(
      within(screen.getByRole('list', { name: 'Talks' }))
        .getByText('Keynote')
        .closest('li')!.textContent,
    ).toContain('attended');

    // Pressing a row rings the places shared with that person; pressing again clears it.
    await user.click(rows[0]!);
    expect(rows[0]!.getAttribute('aria-pressed')).toBe('true');
    expect(g(11)).toBe('place booth visited shared');
    expect(screen.getByText(/shared with/, { selector: 'figcaption' }).textContent).toContain('shared with Pam Trexler');
    await user.click(rows[0]!);
    expect(g(11)).toBe('place booth visited');
  });

  it('another event from the picker: its plan, and the person at that event', async () => {
    const mock = stubApi(eventApi);
    const user = await openEventTab();
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    await screen.findByRole('list', { name: 'Shared with' });
    await user.selectOptions(screen.getByLabelText('Event', { selector: 'select' }), '1');
    await waitFor(() => expect(planLabels()).toEqual(['Old hall']));
    expect(screen.getByRole('heading', { level: 2, name: 'Old meetup' })).toBeTruthy();
    expect(await screen.findByText('No visits or talks recorded for Taco Fargo at this event.')).toBeTruthy();
    expect(await screen.findByText('Nobody shared a booth, a talk or a meeting with Taco Fargo at this event.')).toBeTruthy();
    expect(paths(mock)).toContain('/api/persons/5/visits?event_id=1');
    expect(screen.queryByRole('list', { name: 'Talks' })).toBeNull();
    // The choice stays when switching views.
    await user.click(screen.getByRole('tab', { name: 'Connections' }));
    await user.click(screen.getByRole('tab', { name: 'Event' }));
    expect(await screen.findByRole('heading', { level: 2, name: 'Old meetup' })).toBeTruthy();
  });

  it('tabs answer the arrow keys', async () => {
    stubApi(eventApi);
    const user = userEvent.setup();
    render(<App apiBaseUrl="" />);
    (await screen.findByRole('tab', { name: 'Connections' })).focus();
    await user.keyboard('{ArrowRight}');
    expect(screen.getByRole('tab', { name: 'Event' }).getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Event' }));
    await user.keyboard('{ArrowRight}');
    expect(screen.getByRole('tab', { name: 'Connections' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('heading', { name: 'Connections' })).toBeTruthy();
  });

  it('empty states: no events; an event without places or talks', async () => {
    stubApi((url, init) => (url.pathname === '/api/events' ? { body: [] } : eventApi(url, init)));
    await openEventTab();
    expect(await screen.findByText('No events yet.')).toBeTruthy();
    expect(screen.queryByLabelText('Event', { selector: 'select' })).toBeNull();
    vi.unstubAllGlobals();
    document.body.innerHTML = '';

    stubApi((url, init) => (url.pathname === '/api/events' ? { body: [events[2]] } : eventApi(url, init)));
    await openEventTab();
    expect(await screen.findByText('This event has no places yet, so there is no floor plan.')).toBeTruthy();
  });

  it('errors are said where they happen; the rest of the view keeps working', async () => {
    stubApi((url, init) => {
      if (url.pathname.endsWith('/visits')) return { status: 500, body: { title: 'Internal Server Error', status: 500, detail: 'boom' } };
      if (url.pathname.endsWith('/sessions')) return { status: 503, body: { title: 'Service Unavailable', status: 503 } };
      return eventApi(url, init);
    });
    const user = await openEventTab();
    await user.click(await screen.findByRole('option', { name: /Taco Fargo/ }));
    expect((await screen.findByText(/Could not load the timeline/)).textContent).toBe('Could not load the timeline. The API answered 500: boom.');
    expect((await screen.findByText(/Could not load the talks/)).textContent).toBe('Could not load the talks. The API answered 503: Service Unavailable.');
    expect(screen.getAllByRole('alert')).toHaveLength(2);
    expect(planLabels()).toHaveLength(4);
    expect(await screen.findByRole('list', { name: 'Shared with' })).toBeTruthy();
  });

  it('the events failing to load is an error, not a blank view', async () => {
    stubApi((url, init) =>
      url.pathname === '/api/events' ? { status: 502, body: { title: 'Bad Gateway', status: 502, detail: 'person-api is unreachable' } } : eventApi(url, init),
    );
    await openEventTab();
    expect((await screen.findByRole('alert')).textContent).toBe('Could not load the events. The API answered 502: person-api is unreachable.');
  });

  it('a 401 from the event endpoints signs out', async () => {
    stubApi((url, init) => (url.pathname.endsWith('/places') ? { status: 401, body: { title: 'Unauthorized', status: 401 } } : eventApi(url, init)));
    await openEventTab();
    expect((await screen.findByRole('alert')).textContent).toContain('Your session expired or the token was revoked');
    expect(screen.getByRole('form', { name: 'Sign in' })).toBeTruthy();
  });
});

describe('the Event view (attendee)', () => {
  it('shows their own visits and talks', async () => {
    signIn(ATTENDEE_TOKEN);
    const mock = stubApi(attendeeApi);
    await openEventTab();
    expect(await screen.findByRole('heading', { name: 'Your visits and talks' })).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Who shared booths and talks with you' })).toBeTruthy();
    expect(await screen.findByRole('list', { name: 'Timeline, 2026-05-05' })).toBeTruthy();
    expect(paths(mock)).not.toContain('/api/persons');
    expect(paths(mock)).toContain('/api/persons/5/visits?event_id=2');
  });
});
