/**
 * Names, companies and every other user-typed text are rendered as text, never as HTML: in the
 * lists (React) and in Leaflet's tooltips (DOM nodes built with textContent). The map itself needs
 * real layout and is exercised in Chromium by test/browser/frontend-xss.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import type { Person, PersonConnection } from '../src/api';
import { TOKEN_KEY } from '../src/session';
import { ATTENDEE_TOKEN, bearer, inAnHour, loc, ORGANIZER_TOKEN, persons, stubApi, type Handler } from './fixtures';
import { place, square } from './event-fixtures';

vi.mock('../src/MapView', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/MapView')>()),
  MapView: () => <div data-testid="map" />,
}));

declare global {
  interface Window {
    __xss?: number;
  }
}

const IMG = '<img src=x onerror="window.__xss=1">';
const BOLD = '<b>bold</b>';
const SCRIPT = '<script>window.__xss=2</script>';
const marked: Person = { id: 77, first_name: IMG, last_name: BOLD, company_name: SCRIPT };
const marked2: Person = {
  id: 78,
  first_name: '<svg onload="window.__xss=3">',
  last_name: '"><iframe src="javascript:window.__xss=4">',
  company_name: '&lt;entity&gt; & <i>co</i>',
};
const markupTags = 'img, b, script, svg, iframe, i';

const meetings = (p: Person, id: number): PersonConnection => ({
  person: p,
  first_met: '2020-08-15T10:37:06Z',
  last_met: '2020-08-15T10:37:06Z',
  match_count: 1,
  closest_distance_meters: 1.5,
  meeting_points: [loc(id, p.id, '2020-08-15T10:37:06Z')],
});

const api: Handler = (url, init) => {
  const organizer = bearer(init) === `Bearer ${ORGANIZER_TOKEN}`;
  if (url.pathname === '/api/me')
    return {
      body: organizer
        ? { role: 'organizer', person_id: null, expires_at: inAnHour() }
        : { role: 'attendee', person_id: 77, expires_at: inAnHour(), person: marked },
    };
  if (url.pathname === '/api/persons') return { body: [...persons, marked, marked2] };
  if (url.pathname === '/api/persons/5/connection') return { body: [meetings(marked, 90), meetings(marked2, 91)] };
  if (url.pathname === '/api/persons/77/connection') return { body: [meetings(persons[1]!, 92), meetings(marked2, 93)] };
  if (url.pathname.endsWith('/locations')) return { body: [] };
  return { status: 404, body: { title: 'Not Found', status: 404 } };
};

function expectLiteral(el: HTMLElement, ...texts: string[]) {
  for (const t of texts) expect(el.textContent).toContain(t);
  expect(el.querySelector(markupTags)).toBeNull();
}

describe('user text is text', () => {
  it('in the people list, the search, the connection rows and the headings (organizer)', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ORGANIZER_TOKEN);
    stubApi(api);
    const user = userEvent.setup();
    const { container } = render(<App apiBaseUrl="" />);
    const list = await screen.findByRole('listbox', { name: 'People' });
    const option = within(list).getByRole('option', { name: /img src=x/ });
    expectLiteral(option, `${IMG} ${BOLD}`, SCRIPT);
    expectLiteral(within(list).getByRole('option', { name: /svg onload/ }), marked2.first_name, marked2.last_name, marked2.company_name);

    await user.type(screen.getByLabelText('Search people'), '<script>');
    expect(
      within(list)
        .getAllByRole('option')
        .map((o) => o.textContent),
    ).toEqual([`${IMG} ${BOLD}${SCRIPT}`]);
    await user.clear(screen.getByLabelText('Search people'));
    await user.type(screen.getByLabelText('Search people'), '<nobody>');
    expect(screen.getByText(/No one matches/).textContent).toContain('“<nobody>”');

    await user.clear(screen.getByLabelText('Search people'));
    await user.click(screen.getByRole('option', { name: /img src=x/ }));
    expect(screen.getByRole('heading', { level: 2, name: `Connections of ${IMG} ${BOLD}` })).toBeTruthy();
    const rows = within(await screen.findByRole('list', { name: 'Connections' })).getAllByRole('button');
    expect(rows).toHaveLength(2);
    expectLiteral(rows[1]!, `${marked2.first_name} ${marked2.last_name}`, marked2.company_name);

    await user.click(screen.getByRole('option', { name: /Taco Fargo/ }));
    const rows5 = within(await screen.findByRole('list', { name: 'Connections' })).getAllByRole('button');
    expectLiteral(rows5[0]!, `${IMG} ${BOLD}`, SCRIPT);
    expect(container.querySelector(markupTags)).toBeNull();
    expect(window.__xss).toBeUndefined();
  });

  it("in the attendee's own name, in the header and in their card", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    stubApi(api);
    const { container } = render(<App apiBaseUrl="" />);
    expectLiteral(await screen.findByRole('region', { name: 'You' }), `${IMG} ${BOLD}`, SCRIPT);
    expectLiteral(screen.getByRole('group', { name: 'Signed in' }), `Signed in as attendee ${IMG} ${BOLD}`);
    const rows = within(await screen.findByRole('list', { name: 'Connections' })).getAllByRole('button');
    expectLiteral(rows[1]!, marked2.first_name, marked2.company_name);
    expect(container.querySelector(markupTags)).toBeNull();
    expect(window.__xss).toBeUndefined();
  });
});

describe('user text is text on the event page', () => {
  const PLACE = '<img src=x onerror=alert(1)>';
  const ev = { id: 7, name: '<b>Hack</b>Conf <script>window.__xss=5</script>', starts_at: '2026-05-05T00:00:00Z', ends_at: '2026-05-06T00:00:00Z' };
  const ring = square(-122.4017, 37.7841, 5);
  const hostilePlaces = [place(70, 7, PLACE, 'booth', ring), place(71, 7, '<svg onload="window.__xss=6">', 'room', square(-122.4012, 37.7841, 20))];
  const talk = {
    id: 700,
    event_id: 7,
    place_id: 71,
    title: '<iframe src="javascript:window.__xss=7">',
    starts_at: '2026-05-05T09:00:00Z',
    ends_at: '2026-05-05T09:45:00Z',
  };
  const { event_id: _e, ...talkRef } = talk;
  const ref = { id: 70, name: PLACE, kind: 'booth' as const };
  const eventPageApi: Handler = (url, init) => {
    if (url.pathname === '/api/events') return { body: [ev] };
    if (url.pathname === '/api/events/7/places') return { body: hostilePlaces };
    if (url.pathname === '/api/events/7/sessions') return { body: [talk] };
    if (url.pathname.endsWith('/visits'))
      return {
        body: {
          event_id: 7,
          person_id: 77,
          places: [{ place: ref, first_seen: '2026-05-05T08:00:00Z', last_seen: '2026-05-05T08:10:00Z', minutes: 10, visits: 1 }],
          sessions: [{ session: talkRef, minutes_inside: 30 }],
        },
      };
    if (url.pathname.endsWith('/shared'))
      return { body: { event_id: 7, person_id: 77, shared: [{ person: marked2, places: [ref], sessions: [talkRef], meetings: 2 }] } };
    return api(url, init);
  };

  it('event, place and talk names, the timeline, the shared list and the floor plan labels (attendee whose name is markup)', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, ATTENDEE_TOKEN);
    stubApi(eventPageApi);
    const user = userEvent.setup();
    const { container } = render(<App apiBaseUrl="" />);
    await user.click(await screen.findByRole('tab', { name: 'Event' }));
    expectLiteral(await screen.findByRole('heading', { level: 2, name: ev.name }), ev.name);
    expectLiteral(screen.getByLabelText('Event', { selector: 'select' }), ev.name);
    const plan = await screen.findByRole('group', { name: `Floor plan of ${ev.name}` });
    expect([...plan.querySelectorAll('text')].map((t) => t.textContent)).toEqual([PLACE, hostilePlaces[1]!.name]);
    expect(plan.querySelector('title')!.textContent).toBe(`${PLACE} (Booth), visited 1 time, 10 min`);
    expectLiteral(await screen.findByRole('list', { name: 'Timeline, 2026-05-05' }), PLACE, talk.title, `in ${hostilePlaces[1]!.name}`);
    const shared = within(await screen.findByRole('list', { name: 'Shared with' })).getByRole('button');
    expectLiteral(shared, `${marked2.first_name} ${marked2.last_name}`, marked2.company_name, PLACE, talk.title);
    await user.click(shared);
    expectLiteral(container.querySelector('figcaption')!, `shared with ${marked2.first_name} ${marked2.last_name}`);
    expectLiteral(screen.getByRole('list', { name: 'Talks' }), talk.title, hostilePlaces[1]!.name);
    expect(container.querySelector('img, b, script, iframe, i, svg [onload], svg svg')).toBeNull();
    expect(window.__xss).toBeUndefined();
  });

  it('in the live toasts', async () => {
    const { meetingSentence, Toasts } = await import('../src/LiveMeetings');
    const meeting = {
      other_person: { id: 78, first_name: marked2.first_name, last_name: marked2.last_name },
      at: '2026-05-05T10:00:00Z',
      place: { id: 70, name: PLACE },
      latitude: 1,
      longitude: 2,
      distance_meters: 1,
    };
    const sentence = meetingSentence(meeting, `${IMG} ${BOLD}`);
    render(<Toasts toasts={[{ id: 1, sentence, meeting }]} onDismiss={() => undefined} />);
    expectLiteral(screen.getByRole('log', { name: 'Live meetings' }), `${IMG} ${BOLD} just met ${marked2.first_name} ${marked2.last_name} at ${PLACE}`);
    expect(window.__xss).toBeUndefined();
  });
});

describe('map tooltips are DOM nodes holding text', () => {
  it('a meeting point: name, company and time, each a text line', async () => {
    const { meetingTooltip, pingTooltip } = await import('../src/MapView');
    const node = meetingTooltip(meetings(marked, 90), '2020-08-15T10:37:06Z');
    expect(node).toBeInstanceOf(HTMLElement);
    expect([...node.children].map((c) => c.textContent)).toEqual([`${IMG} ${BOLD}`, SCRIPT, '2020-08-15T10:37:06Z']);
    expect(node.querySelector(markupTags)).toBeNull();
    expect(node.innerHTML).toContain('&lt;img src=x onerror="window.__xss=1"&gt;');
    expect(pingTooltip(loc(1, 5, '2020-08-15T10:37:06Z')).textContent).toBe('ping 2020-08-15T10:37:06Z');
  });
});

describe('no HTML string reaches the DOM from the sources', () => {
  const dir = join(__dirname, '..', 'src');
  const sources = readdirSync(dir)
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => ({ f, text: readFileSync(join(dir, f), 'utf8') }));

  it('uses no innerHTML, dangerouslySetInnerHTML, insertAdjacentHTML, outerHTML or document.write', () => {
    expect(sources.length).toBeGreaterThan(5);
    for (const { f, text } of sources) {
      expect({ f, hit: /dangerouslySetInnerHTML|\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|createContextualFragment/.exec(text)?.[0] }).toEqual(
        { f, hit: undefined },
      );
    }
  });

  it('gives Leaflet tooltips and popups DOM nodes, never strings', () => {
    for (const { f, text } of sources) {
      const calls = [...text.matchAll(/\.(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent|openPopup|openTooltip)\(\s*([^)]*)/g)];
      for (const [, method, arg] of calls) {
        expect({ f, method, stringArgument: /^[`'"]/.test(arg!.trim()) }).toEqual({ f, method, stringArgument: false });
      }
      if (f === 'MapView.tsx') expect(calls.map((c) => c[2]!.trim())).toEqual(['meetingTooltip(c, mp.creation_time', 'pingTooltip(p']);
    }
  });
});
