/**
 * The event page in Debian's Chromium (playwright-core): Chromium → the frontend server
 * (child process, its /api proxy) → person-api (in-process, private copy of the seeded test
 * database; connection-service in-process for the Connections view). Events, places and the talk
 * are created through the real API; the map tiles are blocked, and the floor plan must still be
 * readable (SVG labels, no tiles, no images).
 *
 * The visits and attendance the writer derives are stored directly (as person-api's own presence
 * test does; the writer's tests and test/e2e/presence.test.ts cover the deriving); /shared counts
 * meetings from pings stored here. Live meetings go through person-api's real SSE route and the
 * frontend proxy; connection-service's Meetings/Watch stream behind it is the harness's in-memory
 * stand-in (the real one: test/e2e/presence.test.ts). Screenshots: test-output/browser/.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { InMemoryMeetingWatcher } from '../../modules/person-api/test/fakes';
import { squareAt } from '../support/squares';
import {
  attendeeToken,
  buildPage,
  ensureChromium,
  launchChromium,
  organizerToken,
  poll,
  SHOTS,
  startFrontend,
  watchPage,
  type Frontend,
  type PageWatch,
} from './browser-support';

interface Person {
  id: number;
  first_name: string;
  last_name: string;
  company_name: string;
}
interface Shared {
  shared: Array<{ person: Person; places: Array<{ id: number; name: string }>; sessions: Array<{ id: number; title: string }>; meetings: number }>;
}

// The venue: Moscone-ish, two booths 5 m square 20 m apart, a 20 m talk room north of them.
const LAT = 37.7842;
const LON = -122.4016;
const DLAT = 1 / 111_000;
const DLON = 1 / 88_000;
/** A square `side` meters wide, its south-west corner `east` and `north` meters from (LAT, LON). */
const square = (east: number, north: number, side: number) =>
  squareAt({ latitude: LAT, longitude: LON, degreesPerMeter: { north: DLAT, east: DLON } }, east, north, side);
const MIN = 60_000;
/** Whole minutes: the times the page shows are exact. */
const now0 = Math.floor(Date.now() / MIN) * MIN;
const iso = (ms: number) => new Date(ms).toISOString();
const clock = (ms: number) => iso(ms).slice(11, 16);
const day = (ms: number) => iso(ms).slice(0, 10);
/** A span of minutes from now0 as the timeline shows it: "09:00–09:45", with the days when it crosses midnight UTC. */
const span = (from: number, to: number) => {
  const [a, b] = [now0 + from * MIN, now0 + to * MIN];
  return day(a) === day(b) ? `${clock(a)}–${clock(b)}` : `${day(a)} ${clock(a)} – ${day(b)} ${clock(b)}`;
};

let h: Harness;
const watcher = new InMemoryMeetingWatcher();
let api: http.Server;
let built: ReturnType<typeof buildPage>;
let frontend: Frontend;
let browser: Browser;
let page: Page;
let watch: PageWatch;
let organizer: string;
let expo: { id: number; name: string };
let oldEvent: { id: number; name: string };
let places: Record<'boothA' | 'boothB' | 'room', number>;
let keynote: number;
let grace: Person;
let ada: Person;
const tileRequests: string[] = [];

async function post<T>(path: string, body: object): Promise<T> {
  const res = await h.http.post(path).send(body);
  expect({ path, status: res.status, body: res.status === 201 ? 'ok' : res.body }).toEqual({ path, status: 201, body: 'ok' });
  return res.body as T;
}

/** A ping straight into the test database, as location-writer stores them. */
async function ping(personId: number, at: number, east: number, north: number) {
  await h.knex.raw(`INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (?, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?, ?)`, [
    personId,
    LON + east * DLON,
    LAT + north * DLAT,
    iso(at),
    randomUUID(),
  ]);
}

beforeAll(async () => {
  ensureChromium();
  h = await startTestPersonApi('eventpage', { connectionService: true, meetings: watcher });
  organizer = organizerToken(h);

  // Through the real API: an old event with one hall, and the expo running now with two booths and a talk.
  oldEvent = await post('/api/events', { name: 'Spring meetup', starts_at: '2025-03-01T08:00:00Z', ends_at: '2025-03-01T18:00:00Z' });
  await post(`/api/events/${oldEvent.id}/places`, { name: 'Old hall', kind: 'area', area: square(0, 0, 30) });
  expo = await post('/api/events', { name: 'Browser expo', starts_at: iso(now0 - 4 * 60 * MIN), ends_at: iso(now0 + 4 * 60 * MIN) });
  const boothA = await post<{ id: number }>(`/api/events/${expo.id}/places`, { name: 'Booth A', kind: 'booth', area: square(0, 0, 5) });
  const boothB = await post<{ id: number }>(`/api/events/${expo.id}/places`, { name: 'Booth B', kind: 'booth', area: square(20, 0, 5) });
  const room = await post<{ id: number }>(`/api/events/${expo.id}/places`, { name: 'Talk room', kind: 'room', area: square(0, 20, 20) });
  places = { boothA: boothA.id, boothB: boothB.id, room: room.id };
  keynote = (
    await post<{ id: number }>(`/api/events/${expo.id}/sessions`, {
      title: 'Opening keynote',
      place_id: room.id,
      starts_at: iso(now0 - 120 * MIN),
      ends_at: iso(now0 - 75 * MIN),
    })
  ).id;

  grace = await post('/api/persons', { first_name: 'Grace', last_name: 'Hopper', company_name: 'Navy' });
  ada = await post('/api/persons', { first_name: 'Ada', last_name: 'Lovelace', company_name: 'Analytical Engines' });
  // What the writer would have derived: Grace at booth A, the keynote, booth B; Ada at booth A and the keynote.
  const visit = (p: Person, place: number, from: number, to: number) => ({
    person_id: p.id,
    event_id: expo.id,
    place_id: place,
    first_seen: iso(now0 + from * MIN),
    last_seen: iso(now0 + to * MIN),
  });
  await h
    .knex('visit')
    .insert([
      visit(grace, places.boothA, -150, -140),
      visit(grace, places.room, -122, -75),
      visit(grace, places.boothB, -50, -44),
      visit(ada, places.boothA, -149, -141),
      visit(ada, places.room, -121, -80),
    ]);
  await h.knex('attendance').insert([
    { person_id: grace.id, event_id: expo.id, session_id: keynote, seconds_inside: 45 * 60 },
    { person_id: ada.id, event_id: expo.id, session_id: keynote, seconds_inside: 41 * 60 },
  ]);
  // Grace and Ada 2 m apart at booth A, 20 s apart: a meeting.
  await ping(grace.id, now0 - 145 * MIN, 2, 2);
  await ping(ada.id, now0 - 145 * MIN + 20_000, 4, 2);

  api = http.createServer(h.app);
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  built = buildPage();
  // TILE_URL left at its default (OpenStreetMap): every tile request is refused below.
  frontend = await startFrontend({ PERSON_API_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, DIST_DIR: built.dir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  watch = await watchPage(page);
  await page.route(/tile\.openstreetmap\.org|\.(png|jpe?g|webp)(\?|$)/, (r) => {
    tileRequests.push(r.request().url());
    return r.abort();
  });
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await frontend?.stop();
  built?.remove();
  if (api?.listening) {
    api.closeAllConnections();
    await new Promise((r) => api.close(r));
  }
  await h?.close();
}, 60_000);

const plan = () => page.locator('svg.floor-plan');
const label = (name: string) => plan().locator('text', { hasText: name });
const placeClass = (id: number) => plan().locator(`[data-place-id="${id}"]`).getAttribute('class');
type Box = { x: number; y: number; width: number; height: number };
/** Computed style properties of the floor plan's element at `selector`. (Page code as text: this project's TypeScript has no DOM types outside the frontend.) */
const computed = (selector: string, props: string[]) =>
  page.evaluate<Record<string, string>>(
    `(() => { const s = getComputedStyle(document.querySelector('svg.floor-plan ${selector}')); return Object.fromEntries(${JSON.stringify(props)}.map((p) => [p, s[p]])); })()`,
  );
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('the floor plan of the event running now: labelled polygons, coloured by kind, readable with every tile blocked', async () => {
  await page.goto(`${frontend.url}#token=${organizer}`);
  await page.getByRole('group', { name: 'Signed in' }).getByText('Signed in as organizer').waitFor();
  // The view shown at sign-in has a map that asks for its tiles (refused by the route above) a
  // moment later: the Event view is opened once the page is quiet, so what it asks for is its own.
  await page.waitForLoadState('networkidle');
  const before = watch.requests.length;
  await page.getByRole('tab', { name: 'Event' }).click();
  await page.getByRole('heading', { level: 2, name: 'Browser expo' }).waitFor();
  const picker = page.getByRole('combobox', { name: 'Event' });
  expect(await picker.inputValue()).toBe(String(expo.id));
  const [from, to] = [day(now0 - 4 * 60 * MIN), day(now0 + 4 * 60 * MIN - 1)];
  expect(await picker.locator('option').allTextContents()).toEqual([
    `Browser expo (${from === to ? from : `${from} – ${to}`}) · now`,
    'Spring meetup (2025-03-01)',
  ]);

  await plan().waitFor();
  expect(await plan().getAttribute('aria-label')).toBe('Floor plan of Browser expo');
  const svgBox = (await plan().boundingBox())!;
  const boxes: Box[] = [];
  for (const [name, id] of [
    ['Booth A', places.boothA],
    ['Booth B', places.boothB],
    ['Talk room', places.room],
  ] as const) {
    const text = label(name);
    expect({ name, visible: await text.isVisible() }).toEqual({ name, visible: true });
    const box = (await text.boundingBox())!;
    // Inside the plan, legible (at least 11 px), dark on a light halo.
    expect(box.x).toBeGreaterThanOrEqual(svgBox.x);
    expect(box.x + box.width).toBeLessThanOrEqual(svgBox.x + svgBox.width);
    expect(box.y).toBeGreaterThanOrEqual(svgBox.y);
    expect(box.y + box.height).toBeLessThanOrEqual(svgBox.y + svgBox.height);
    expect(box.height).toBeGreaterThanOrEqual(11);
    const style = await computed(`[data-place-id="${id}"] text`, ['fill', 'stroke', 'paintOrder']);
    expect(style).toEqual({ fill: 'rgb(17, 24, 39)', stroke: 'rgb(248, 250, 252)', paintOrder: 'stroke' });
    boxes.push(box);
  }
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) expect(overlaps(boxes[i]!, boxes[j]!)).toBe(false);
  const fill = async (id: number) => (await computed(`[data-place-id="${id}"] path`, ['fill'])).fill;
  expect([await fill(places.boothA), await fill(places.boothB), await fill(places.room)]).toEqual([
    'rgb(253, 230, 138)',
    'rgb(253, 230, 138)',
    'rgb(191, 219, 254)',
  ]);
  // Nothing of the plan is an image: opening the view asked for data only.
  expect(await plan().locator('image, foreignObject').count()).toBe(0);
  expect(watch.requests.slice(before).filter((u) => !new URL(u).pathname.startsWith('/api/'))).toEqual([]);

  await page.getByText(/Talks at this event/).click();
  expect(await page.getByRole('list', { name: 'Talks' }).textContent()).toContain(
    `${day(now0 - 120 * MIN) === day(now0 - 75 * MIN) ? `${day(now0 - 120 * MIN)} ` : ''}${span(-120, -75)} UTC Opening keynote · Talk room`,
  );
  expect(await page.getByText('Select a person to see their visits and talks').isVisible()).toBe(true);
  await page.screenshot({ path: join(SHOTS, '08-event-floor-plan-no-tiles.png'), fullPage: true });

  await picker.selectOption(String(oldEvent.id));
  await page.getByRole('heading', { level: 2, name: 'Spring meetup' }).waitFor();
  await label('Old hall').waitFor();
  expect(await plan().locator('text').allTextContents()).toEqual(['Old hall']);
  // The Connections view asked for tiles (all refused); the map's own points still come, as before.
  expect(tileRequests.length).toBeGreaterThan(0);
}, 120_000);

test('an attendee: their timeline of visits and talks, whom they shared them with, their places marked on the plan', async () => {
  const token = await attendeeToken(h, grace.id);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(`${frontend.url}#token=${token}`);
  await page.getByRole('group', { name: 'Signed in' }).getByText('Signed in as attendee').waitFor();
  await page.getByRole('tab', { name: 'Event' }).click();
  await page.getByRole('heading', { name: 'Your visits and talks' }).waitFor();

  const items = page.locator('.timeline-item');
  await items.first().waitFor();
  expect(await items.allTextContents()).toEqual([
    `${span(-150, -140)} UTCBoothBooth A1 visit10 min`,
    `${span(-122, -75)} UTCRoomTalk room1 visit47 min`,
    `${span(-120, -75)} UTCTalkOpening keynotein Talk room45 min inside of 45 min`,
    `${span(-50, -44)} UTCBoothBooth B1 visit6 min`,
  ]);
  expect(await page.locator('.timeline h4').first().textContent()).toBe(day(now0 - 150 * MIN));
  for (const id of [places.boothA, places.boothB, places.room]) expect(await placeClass(id)).toContain('visited');

  // The shared list says what the API says: Ada, at booth A and the keynote, and their meeting there.
  const res = await fetch(`${frontend.url}api/persons/${grace.id}/shared?event_id=${expo.id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const shared = ((await res.json()) as Shared).shared;
  expect(shared.map((s) => s.person.id)).toEqual([ada.id]);
  expect(shared[0]!.meetings).toBeGreaterThanOrEqual(1);
  const row = page.getByRole('list', { name: 'Shared with' }).getByRole('button');
  await row.first().waitFor();
  expect(await row.count()).toBe(1);
  const text = (await row.textContent())!;
  expect(text).toContain('Ada LovelaceAnalytical Engines');
  expect(text).toContain(`${shared[0]!.meetings} meeting`);
  expect(text).toContain('Places: Booth A (booth), Talk room (room)');
  expect(text).toContain(`Talks: Opening keynote (${clock(now0 - 120 * MIN)} UTC, Talk room)`);
  await row.click();
  expect(await placeClass(places.boothA)).toBe('place booth visited shared');
  expect(await placeClass(places.boothB)).toBe('place booth visited');
  await page.screenshot({ path: join(SHOTS, '09-event-timeline-shared.png'), fullPage: true });
}, 120_000);

test('live meetings: a toast for each, through the SSE route and the proxy; it vanishes; the page reconnects; signing out closes the stream', async () => {
  const streams = () => watcher.streams.filter((s) => s.personId === grace.id && !s.cancelled);
  await poll(async () => streams().length, 1);
  await page.getByText('Live meetings: on.').waitFor();
  const meeting = (placeId: number | undefined) => ({
    otherPersonId: ada.id,
    otherFirstName: 'Ada',
    otherLastName: 'Lovelace',
    at: new Date(),
    placeId,
    placeName: placeId === undefined ? '' : 'Booth A',
    eventId: placeId === undefined ? undefined : expo.id,
    latitude: LAT + 2 * DLAT,
    longitude: LON + 3 * DLON,
    distanceMeters: 1.5,
  });
  // A toast under a resting pointer stays until the pointer leaves it: keep the pointer out of their corner.
  await page.mouse.move(5, 5);
  watcher.emit(grace.id, meeting(places.boothA));
  const toasts = page.getByRole('log', { name: 'Live meetings' });
  const toast = toasts.getByText('You just met Ada Lovelace at Booth A');
  await toast.waitFor();
  await page.screenshot({ path: join(SHOTS, '10-live-toast.png') });
  await toast.waitFor({ state: 'detached', timeout: 15_000 });

  watcher.emit(grace.id, meeting(undefined));
  await toasts.getByText(`You just met Ada Lovelace at ${(LAT + 2 * DLAT).toFixed(5)}, ${(LON + 3 * DLON).toFixed(5)}`).waitFor();

  // connection-service ends the Watch (a restart): the page says so and connects again.
  streams()[0]!.handlers.onEnd();
  await poll(async () => watcher.streams.filter((s) => s.personId === grace.id).length, 2);
  await page.getByText('Live meetings: on.').waitFor();

  // Signing out aborts the fetch; the proxy passes that on, and person-api cancels the Watch.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await poll(async () => streams().length, 0);
}, 120_000);

test('no Content-Security-Policy violation, script error or dialog on the page', async () => {
  expect(await watch.violations()).toEqual([]);
  expect(watch.dialogs).toEqual([]);
  // Only what the test provoked: the refused tiles.
  expect(watch.errors.filter((e) => !/ERR_FAILED/.test(e))).toEqual([]);
});
