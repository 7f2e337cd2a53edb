/**
 * Stored XSS and the page's security headers, in Debian's Chromium (playwright-core): persons
 * whose names and companies hold markup have pings beside Taco Fargo's (a seeded person); an
 * organizer (sign-in link) and one of those persons as an attendee (sign-in form) open every list,
 * tooltip and highlight on the page, and the event view: an event, places (one named
 * `<img src=x onerror=alert(1)>`) and a talk whose names are markup, with the markup persons'
 * timeline and shared list. No script may run, no dialog open and nothing may violate
 * the Content-Security-Policy; the markup must show as literal text. The map's tiles come from a
 * local tile server set as TILE_URL, so the CSP's img-src is checked against real tile images.
 *
 * Chromium → frontend server (child process) → person-api (in-process, private copy of the seeded
 * test database) → connection-service (in-process, real PostGIS). Screenshots: test-output/browser/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { serviceDatabaseUrl } from '../support/test-env';
import seed from '../../db/seed-data/starter-seed.json';
import { testKnex } from '../support/test-database';
import {
  attendeeToken,
  buildPage,
  ensureChromium,
  expectSecurityHeaders,
  launchChromium,
  organizerToken,
  parseCsp,
  poll,
  SHOTS,
  storedToken,
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
type NewPerson = Omit<Person, 'id'>;
interface Group {
  person: Person;
  match_count: number;
}

const MARKUP: NewPerson = {
  first_name: '<img src=x onerror="window.__xss=1">',
  last_name: '<b>bold</b>',
  company_name: '<script>window.__xss=2</script>',
};
const MARKUP2: NewPerson = {
  first_name: '<svg onload="window.__xss=3">',
  last_name: '"><iframe src="javascript:window.__xss=4">',
  company_name: '<a href="javascript:window.__xss=5">&amp; Co</a>',
};
const nameOf = (p: NewPerson) => `${p.first_name} ${p.last_name}`;
/** Elements the markup above would create if it were parsed as HTML (Leaflet's own svg/img are not among them). */
const INJECTED = '[onerror], [onload], b, iframe, a[href^="javascript:"], script:not([type="module"]), img[src="x"], svg[onload]';
// A 1×1 light grey PNG: every tile of the local tile server.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGN4+vw1AAVsArjSAflTAAAAAElFTkSuQmCC', 'base64');

let h: Harness;
let api: http.Server;
let apiUrl: string;
const apiRequests: http.IncomingHttpHeaders[] = [];
let tiles: http.Server;
let tileOrigin: string;
let tileUrl: string;
const tileRequests: Array<{ url: string; referer: string | undefined }> = [];
let page_: ReturnType<typeof buildPage>;
let frontend: Frontend;
let browser: Browser;
let page: Page;
let watch: PageWatch;
let organizer: string;
let markup: Person;
let markup2: Person;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function createPerson(p: NewPerson): Promise<Person> {
  const res = await h.http.post('/api/persons').send(p);
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject(p); // stored as typed: the page, not the API, keeps it text
  return res.body as Person;
}

/** A ping straight into the test database (as location-writer, who inserts them), beside Taco Fargo's. */
async function ping(personId: number, latitude: number, longitude: number, at: string) {
  const writer = testKnex(serviceDatabaseUrl('location-writer', h.testDb.url), 1);
  try {
    await writer.raw(
      `INSERT INTO location (person_id, coordinate, creation_time, event_id)
     VALUES (?, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?, gen_random_uuid())`,
      [personId, longitude, latitude, at],
    );
  } finally {
    await writer.destroy();
  }
}

beforeAll(async () => {
  ensureChromium();
  h = await startTestPersonApi('frontendxss', { connectionService: true });
  organizer = organizerToken(h);
  markup = await createPerson(MARKUP);
  markup2 = await createPerson(MARKUP2);
  // Taco Fargo (5) was at these two spots on 2020-08-15 (seed locations 30 and 31).
  await ping(markup.id, 37.553441, -122.290524, '2020-08-15T10:40:00Z');
  await ping(markup.id, 37.55363, -122.290883, '2020-08-16T09:00:00Z');
  await ping(markup2.id, 37.553441, -122.290524, '2020-08-17T12:00:00Z');

  api = http.createServer((req, res) => {
    apiRequests.push(req.headers);
    h.app(req, res);
  });
  apiUrl = await listen(api);
  tiles = http.createServer((req, res) => {
    tileRequests.push({ url: req.url ?? '', referer: req.headers.referer });
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(PNG);
  });
  tileOrigin = await listen(tiles);
  tileUrl = `${tileOrigin}/tiles/{z}/{x}/{y}.png`;
  page_ = buildPage();
  frontend = await startFrontend({ PERSON_API_URL: apiUrl, TILE_URL: tileUrl, DIST_DIR: page_.dir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch = await watchPage(page);
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await frontend?.stop();
  page_?.remove();
  for (const s of [api, tiles]) {
    if (s?.listening) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
  await h?.close();
}, 60_000);

async function apiGet<T>(path: string, token = organizer): Promise<T> {
  const res = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}
const groupsOf = (id: number) => apiGet<Group[]>(`/api/persons/${id}/connection?start_date=2020-01-01&end_date=2020-12-30&distance=5&group_by=person`);
const pingsOf = (id: number) => apiGet<unknown[]>(`/api/persons/${id}/locations?start_date=2020-01-01&end_date=2020-12-30`);

const connectionRows = () => page.getByRole('list', { name: 'Connections' }).getByRole('button');
/** Highlights the contact whose row holds `text` (a click toggles: only when not highlighted yet). */
async function highlight(text: string) {
  const row = connectionRows().filter({ hasText: text }).first();
  if ((await row.getAttribute('aria-pressed')) !== 'true') await row.click();
  expect(await row.getAttribute('aria-pressed')).toBe('true');
}
const tooltip = () => page.locator('.leaflet-tooltip-pane .leaflet-tooltip');

/** Nothing the markup could have become is in the document, and no script it holds ran. */
async function expectNothingInjected(where: string) {
  const found = await page.evaluate<string[]>(`[...document.querySelectorAll(${JSON.stringify(INJECTED)})].map((e) => e.outerHTML.slice(0, 120))`);
  expect({ where, found }).toEqual({ where, found: [] });
  expect({ where, xss: await page.evaluate<unknown>('typeof window.__xss') }).toEqual({ where, xss: 'undefined' });
}

/** Opens the tooltip of every marker on the map (a mouseover on each, however they overlap); their texts. */
async function hoverEveryMarker(selector: string): Promise<string[]> {
  const markers = page.locator(`.map ${selector}`);
  const n = await markers.count();
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const marker = markers.nth(i);
    await marker.dispatchEvent('mouseover');
    // Leaflet points the marker at its open tooltip (role="tooltip").
    const tip = page.locator(`.leaflet-tooltip-pane [role="tooltip"][id="${await marker.getAttribute('aria-describedby')}"]`);
    await tip.waitFor();
    expect(await tip.locator('*').evaluateAll((els) => els.map((e) => e.tagName).filter((t) => !['DIV', 'SPAN'].includes(t)))).toEqual([]);
    texts.push((await tip.textContent()) ?? '');
    await marker.dispatchEvent('mouseout');
  }
  // Every tooltip closed again (Leaflet fades them out for 200 ms).
  await poll(() => tooltip().count(), 0);
  return texts;
}

/**
 * The selected person's whole view: waits for their connections and pings (as the API answers
 * them), hovers every marker, then highlights each contact in turn and hovers their rings.
 */
async function sweepSelected(personId: number, token = organizer): Promise<string[]> {
  const groups = await apiGet<Group[]>(`/api/persons/${personId}/connection?start_date=2020-01-01&end_date=2020-12-30&distance=5&group_by=person`, token);
  const pings = await apiGet<unknown[]>(`/api/persons/${personId}/locations?start_date=2020-01-01&end_date=2020-12-30`, token);
  const meetings = groups.reduce((n, g) => n + g.match_count, 0);
  await page.getByText('Loading connections…').waitFor({ state: 'detached' });
  await poll(() => page.locator('.map path.meeting-point').count(), meetings);
  await poll(() => page.locator('.map path.ping').count(), pings.length);
  if (groups.length === 0) await page.getByText('No connections in this range').waitFor();
  else expect(await connectionRows().count()).toBe(groups.length);

  const texts = [...(await hoverEveryMarker('path.meeting-point')), ...(await hoverEveryMarker('path.ping'))];
  for (const g of groups) {
    const row = connectionRows()
      .filter({ hasText: `${g.person.first_name} ${g.person.last_name}` })
      .first();
    await row.click();
    expect(await row.getAttribute('aria-pressed')).toBe('true');
    await poll(() => page.locator('.map path.meeting-point.highlighted').count(), g.match_count);
    const ringed = await hoverEveryMarker('path.meeting-point.highlighted');
    for (const t of ringed) {
      expect(t).toContain(`${g.person.first_name} ${g.person.last_name}`);
      expect(t).toContain(g.person.company_name);
    }
    texts.push(...ringed);
  }
  await expectNothingInjected(`person ${personId}`);
  return texts;
}

test("every answer of the frontend server carries the security headers; the page's CSP is strict", async () => {
  const res = await fetch(frontend.url);
  expect(res.status).toBe(200);
  expectSecurityHeaders(res.headers, 'the page');
  expect(parseCsp(res.headers.get('content-security-policy'))).toEqual({
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", tileOrigin],
    'connect-src': ["'self'"],
    'font-src': ["'self'"],
    'manifest-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
  });
  const html = await res.text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
  expect(html).not.toMatch(/\sstyle=|<style/);
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;

  const config = await fetch(`${frontend.url}config.json`);
  expectSecurityHeaders(config.headers, '/config.json');
  expect(await config.json()).toEqual({ apiBaseUrl: '', tileUrl });
  for (const [path, status] of [
    ['healthz', 200],
    [asset.slice(1), 200],
    ['assets/missing.js', 404],
    ['some/page', 200],
  ] as const) {
    const r = await fetch(`${frontend.url}${path}`);
    expect({ path, status: r.status }).toEqual({ path, status });
    expectSecurityHeaders(r.headers, `/${path}`);
  }
  const post = await fetch(`${frontend.url}nothing`, { method: 'POST' });
  expect(post.status).toBe(404);
  expect(post.headers.get('content-type')).toContain('application/problem+json');
  expectSecurityHeaders(post.headers, 'POST /nothing (404)');

  // Proxied API answers: the frontend server's headers, the strict CSP for data.
  const anonymous = await fetch(`${frontend.url}api/persons`);
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expectSecurityHeaders(anonymous.headers, 'proxied 401');
  expect(parseCsp(anonymous.headers.get('content-security-policy'))['default-src']).toEqual(["'none'"]);
  const before = apiRequests.length;
  const me = await fetch(`${frontend.url}api/me`, { headers: { authorization: `Bearer ${organizer}`, cookie: 'session=should-not-travel' } });
  expect(me.status).toBe(200);
  expect(((await me.json()) as { role: string }).role).toBe('organizer');
  expectSecurityHeaders(me.headers, 'proxied /api/me');
  expect(me.headers.get('cache-control')).toBeTruthy();
  const forwarded = apiRequests.slice(before);
  expect(forwarded).toHaveLength(1);
  expect(forwarded[0]!.authorization).toBe(`Bearer ${organizer}`);
  expect(forwarded[0]!.cookie).toBeUndefined();
});

test('organizer, signed in by the link: every list, tooltip and highlight shows the markup as literal text', async () => {
  const res = await page.goto(`${frontend.url}#token=${organizer}`);
  expect(parseCsp(res!.headers()['content-security-policy'])['img-src']).toEqual(["'self'", tileOrigin]);
  expectSecurityHeaders(res!.headers(), 'the page in Chromium');
  await page.getByRole('group', { name: 'Signed in' }).getByText('Signed in as organizer').waitFor();
  expect(page.url()).toBe(frontend.url);
  expect(await storedToken(page)).toBe(organizer);

  // The people list, unfiltered and searched.
  const options = page.getByRole('listbox', { name: 'People' }).getByRole('option');
  await poll(() => options.count(), 7);
  const listed = await options.allTextContents();
  expect(listed).toContain(`${nameOf(MARKUP)}${MARKUP.company_name}`);
  expect(listed).toContain(`${nameOf(MARKUP2)}${MARKUP2.company_name}`);
  await page.getByLabel('Search people').fill('<script>');
  expect(await options.allTextContents()).toEqual([`${nameOf(MARKUP)}${MARKUP.company_name}`]);
  await page.getByLabel('Search people').fill('');
  await expectNothingInjected('people list');

  // Every person, every marker, every contact highlighted.
  const texts: string[] = [];
  for (const p of [...seed.persons, markup, markup2]) {
    const option = options.filter({ hasText: `${p.first_name} ${p.last_name}` });
    expect(await option.count()).toBe(1);
    await option.click();
    expect(await option.getAttribute('aria-selected')).toBe('true');
    texts.push(...(await sweepSelected(p.id)));
  }
  // The markup reached tooltips, and as text.
  const tacoGroups = await groupsOf(5);
  expect(tacoGroups.map((g) => g.person.id)).toEqual(expect.arrayContaining([markup.id, markup2.id]));
  expect(texts.some((t) => t.includes(nameOf(MARKUP)) && t.includes(MARKUP.company_name))).toBe(true);
  expect(texts.some((t) => t.includes(nameOf(MARKUP2)) && t.includes(MARKUP2.company_name))).toBe(true);
  expect(texts.some((t) => t.includes('Taco Fargo'))).toBe(true);

  // A real mouse over a ringed marker of the markup person, as a user would hover it.
  await options.filter({ hasText: 'Taco Fargo' }).click();
  await page.getByText('Loading connections…').waitFor({ state: 'detached' });
  await highlight(MARKUP.company_name);
  const ring = page.locator('.map path.meeting-point.highlighted').first();
  await ring.waitFor();
  const box = (await ring.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await tooltip().first().waitFor();
  expect(await tooltip().textContent()).toContain('<img src=x onerror="window.__xss=1"> <b>bold</b>');
  expect(await tooltip().textContent()).toContain('<script>window.__xss=2</script>');
  expect(await page.getByRole('heading', { name: 'Connections of Taco Fargo' }).isVisible()).toBe(true);
  await page.screenshot({ path: join(SHOTS, '05-markup-as-text-organizer.png'), fullPage: true });
  await page.mouse.move(1, 1);
  await expectNothingInjected('organizer, after hovering');
  expect(await pingsOf(markup.id)).toHaveLength(2);
}, 240_000);

test('an attendee whose name is markup, signed in with the form: themself, their contacts and map, all as text', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
  expect(await storedToken(page)).toBeNull();

  const token = await attendeeToken(h, markup.id);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const who = page.getByRole('group', { name: 'Signed in' });
  await who.getByText('Signed in as attendee').waitFor();
  expect(await who.textContent()).toContain(`Signed in as attendee ${nameOf(MARKUP)}`);
  const you = page.getByRole('region', { name: 'You' });
  expect(await you.textContent()).toContain(`${nameOf(MARKUP)}${MARKUP.company_name}`);
  expect(await page.getByRole('listbox').count()).toBe(0);
  expect(await storedToken(page)).toBe(token);

  const texts = await sweepSelected(markup.id, token);
  const contacts = await connectionRows().allTextContents();
  expect(contacts.some((c) => c.includes('Taco Fargo'))).toBe(true);
  expect(contacts.some((c) => c.includes(nameOf(MARKUP2)) && c.includes(MARKUP2.company_name))).toBe(true);
  expect(texts.some((t) => t.includes(nameOf(MARKUP2)))).toBe(true);
  await highlight(MARKUP2.company_name);
  const ring = page.locator('.map path.meeting-point.highlighted').first();
  await ring.dispatchEvent('mouseover');
  await tooltip().first().waitFor();
  await page.screenshot({ path: join(SHOTS, '06-markup-as-text-attendee.png'), fullPage: true });
  await ring.dispatchEvent('mouseout');
  await expectNothingInjected('attendee');
}, 120_000);

test('the event view (still the markup attendee): event, place and talk names and the people shared with, all as text', async () => {
  // The example the page must survive: a place named like an image whose error handler opens a dialog.
  const PLACE = '<img src=x onerror=alert(1)>';
  const ROOM = '<svg onload="window.__xss=6">';
  const EVENT = '<b>Expo</b> <script>window.__xss=7</script>';
  const TALK = '<iframe src="javascript:window.__xss=8">';
  const hour = 3_600_000;
  const at = (ms: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 + ms).toISOString();
  const created = async (path: string, body: object) => {
    const res = await h.http.post(path).send(body);
    expect({ path, status: res.status }).toEqual({ path, status: 201 });
    return res.body as { id: number; name?: string; title?: string };
  };
  const square = (lon: number) => ({
    type: 'Polygon',
    coordinates: [
      [
        [lon, 37.7842],
        [lon + 0.0001, 37.7842],
        [lon + 0.0001, 37.7843],
        [lon, 37.7843],
        [lon, 37.7842],
      ],
    ],
  });
  const event = await created('/api/events', { name: EVENT, starts_at: at(-2 * hour), ends_at: at(2 * hour) });
  expect(event.name).toBe(EVENT);
  const booth = await created(`/api/events/${event.id}/places`, { name: PLACE, kind: 'booth', area: square(-122.4016) });
  const room = await created(`/api/events/${event.id}/places`, { name: ROOM, kind: 'room', area: square(-122.4012) });
  const talk = await created(`/api/events/${event.id}/sessions`, { title: TALK, place_id: room.id, starts_at: at(-hour), ends_at: at(-hour / 2) });
  // What the writer would derive: both markup persons at the booth and the talk.
  const visit = (personId: number, placeId: number, from: number, to: number) => ({
    person_id: personId,
    event_id: event.id,
    place_id: placeId,
    first_seen: at(from),
    last_seen: at(to),
  });
  await h
    .knex('visit')
    .insert([
      visit(markup.id, booth.id, -90 * 60_000, -80 * 60_000),
      visit(markup2.id, booth.id, -88 * 60_000, -81 * 60_000),
      visit(markup.id, room.id, -61 * 60_000, -30 * 60_000),
    ]);
  await h.knex('attendance').insert([
    { person_id: markup.id, event_id: event.id, session_id: talk.id, seconds_inside: 1800 },
    { person_id: markup2.id, event_id: event.id, session_id: talk.id, seconds_inside: 1800 },
  ]);

  await page.getByRole('tab', { name: 'Event' }).click();
  await page.getByRole('heading', { level: 2, name: EVENT }).waitFor();
  expect(await page.getByRole('combobox', { name: 'Event' }).locator('option').first().textContent()).toContain(EVENT);
  const plan = page.locator('svg.floor-plan');
  await plan.waitFor();
  expect(await plan.getAttribute('aria-label')).toBe(`Floor plan of ${EVENT}`);
  expect(await plan.locator('text').allTextContents()).toEqual([PLACE, ROOM]);
  expect(await plan.locator('text', { hasText: PLACE }).isVisible()).toBe(true);
  const timeline = page.locator('.timeline');
  await timeline.locator('.timeline-item').first().waitFor();
  const items = await timeline.locator('.timeline-item').allTextContents();
  expect(items.some((t) => t.includes(PLACE))).toBe(true);
  expect(items.some((t) => t.includes(TALK) && t.includes(`in ${ROOM}`))).toBe(true);
  const row = page.getByRole('list', { name: 'Shared with' }).getByRole('button').first();
  await row.waitFor();
  const text = (await row.textContent())!;
  for (const t of [nameOf(MARKUP2), MARKUP2.company_name, PLACE, TALK]) expect({ t, shown: text.includes(t) }).toEqual({ t, shown: true });
  await row.click();
  expect(await page.locator('figcaption').textContent()).toContain(`shared with ${nameOf(MARKUP2)}`);
  await page.getByText(/Talks at this event/).click();
  expect(await page.getByRole('list', { name: 'Talks' }).textContent()).toContain(`${TALK} · ${ROOM}`);
  await page.screenshot({ path: join(SHOTS, '11-event-markup-as-text.png'), fullPage: true });
  await expectNothingInjected('event view');
  expect(await page.locator('svg.floor-plan svg, svg.floor-plan image, svg.floor-plan foreignObject, iframe').count()).toBe(0);
  await page.getByRole('tab', { name: 'Connections' }).click();
}, 120_000);

test('a device token revoked while the page is open: the next call signs out with the message', async () => {
  const device = await h.http.post(`/api/persons/${markup2.id}/devices`).send({});
  expect(device.status).toBe(201);
  const { device_id, token } = device.body as { device_id: string; token: string };
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('region', { name: 'You' }).waitFor();
  expect(await page.getByRole('region', { name: 'You' }).textContent()).toContain(nameOf(MARKUP2));
  await page.getByText('Loading connections…').waitFor({ state: 'detached' });

  expect((await h.http.delete(`/api/devices/${device_id}`)).status).toBe(204);
  await page.getByLabel('Distance (m)').fill('50');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  expect(await alert.textContent()).toContain('Your session expired or the token was revoked');
  expect(await page.getByRole('form', { name: 'Sign in' }).isVisible()).toBe(true);
  expect(await storedToken(page)).toBeNull();
  await page.screenshot({ path: join(SHOTS, '07-revoked.png'), fullPage: true });
  await expectNothingInjected('after revocation');
});

test('nothing ran, no dialog opened, the CSP blocked nothing, and tiles came from TILE_URL with the origin as Referer', async () => {
  expect(await watch.violations()).toEqual([]);
  expect(watch.dialogs).toEqual([]);
  expect(watch.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  // <img src=x> never became an element, so nothing asked for "x".
  expect(watch.requests.filter((u) => /\/x$/.test(new URL(u).pathname))).toEqual([]);
  expect(watch.requests.filter((u) => u.startsWith('javascript:'))).toEqual([]);
  expect(tileRequests.length).toBeGreaterThan(0);
  expect(tileRequests.every((t) => /^\/tiles\/\d+\/\d+\/\d+\.png$/.test(t.url))).toBe(true);
  // Referrer-Policy: no-referrer for the page; the tiles alone send the origin, never the path.
  expect(new Set(tileRequests.map((t) => t.referer))).toEqual(new Set([frontend.url]));
});
