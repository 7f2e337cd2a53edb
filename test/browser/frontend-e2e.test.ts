/**
 * The web page end to end: Debian's Chromium (driven by playwright-core) → the frontend server
 * (modules/frontend/server/main.ts, a real child process) → person-api (in-process, on a private
 * copy of the seeded test database) → connection-service (in-process, real PostGIS), signed in
 * as an organizer with the sign-in link. Screenshots go to test-output/browser/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import seed from '../../db/seed-data/starter-seed.json';
import {
  buildPage,
  ensureChromium,
  launchChromium,
  organizerToken,
  SHOTS,
  startFrontend,
  storedToken,
  watchPage,
  type Frontend,
  type PageWatch,
} from './browser-support';

let h: Harness;
let api: http.Server;
let apiUrl: string;
let built: ReturnType<typeof buildPage>;
let frontend: Frontend;
let frontendUrl: string;
let browser: Browser;
let page: Page;
let watch: PageWatch;
let organizer: string;

beforeAll(async () => {
  ensureChromium();
  h = await startTestPersonApi('frontend', { connectionService: true });
  organizer = organizerToken(h);
  api = http.createServer(h.app);
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  // Build the page from the current source, into a folder of this file's own.
  built = buildPage();
  // TILE_URL left at its default: the public OpenStreetMap tiles.
  frontend = await startFrontend({ PERSON_API_URL: apiUrl, DIST_DIR: built.dir });
  frontendUrl = frontend.url;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch = await watchPage(page);
  // No network here: OSM tiles fail fast, and the points must still show.
  await page.route(/tile\.openstreetmap\.org/, (r) => r.abort());
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

interface Group {
  person: { id: number; first_name: string; last_name: string };
  match_count: number;
}
async function apiGroups(distance: string): Promise<Group[]> {
  const res = await fetch(`${apiUrl}/api/persons/5/connection?start_date=2020-01-01&end_date=2020-12-30&distance=${distance}&group_by=person`, {
    headers: { authorization: `Bearer ${organizer}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Group[];
}

async function poll<T>(read: () => Promise<T>, want: T, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: T = await read();
  while (JSON.stringify(last) !== JSON.stringify(want) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  expect(last).toEqual(want);
}

const connectionRows = () => page.getByRole('list', { name: 'Connections' }).getByRole('button');
async function waitForResults() {
  await page.getByText('Loading connections…').waitFor({ state: 'detached' });
}

test('signed in with the sign-in link, the page lists the five seed persons', async () => {
  const res = await page.goto(`${frontendUrl}#token=${organizer}`);
  // The default TILE_URL: the OpenStreetMap tile server is the only foreign image source.
  expect(res!.headers()['content-security-policy']).toContain("img-src 'self' https://tile.openstreetmap.org;");
  await page.getByRole('group', { name: 'Signed in' }).getByText('Signed in as organizer').waitFor();
  expect(page.url()).toBe(frontendUrl); // the token left the address bar
  const options = page.getByRole('listbox', { name: 'People' }).getByRole('option');
  await options.first().waitFor();
  expect(await options.count()).toBe(5);
  const text = await options.allTextContents();
  for (const p of seed.persons) expect(text.some((t) => t.includes(`${p.first_name} ${p.last_name}`) && t.includes(p.company_name))).toBe(true);
  await page.screenshot({ path: join(SHOTS, '01-people.png'), fullPage: true });
});

test('selecting Taco Fargo shows the four people he met, and their points on the map', async () => {
  await page.getByRole('option', { name: /Taco Fargo/ }).click();
  expect(await page.getByRole('option', { name: /Taco Fargo/ }).getAttribute('aria-selected')).toBe('true');
  await connectionRows().first().waitFor();
  await waitForResults();
  const want = await apiGroups('5');
  expect(want).toHaveLength(4);
  expect(await connectionRows().count()).toBe(4);
  const rows = await connectionRows().allTextContents();
  for (const g of want) expect(rows.some((r) => r.includes(`${g.person.first_name} ${g.person.last_name}`))).toBe(true);
  // Leaflet draws circle markers as SVG paths even without tiles.
  await page.locator('.map path.leaflet-interactive').first().waitFor();
  expect(await page.locator('.map path.meeting-point').count()).toBe(want.reduce((n, g) => n + g.match_count, 0));
  expect(await page.locator('.map path.ping').count()).toBeGreaterThan(0);
  expect(await page.locator('.leaflet-control-attribution').textContent()).toContain('OpenStreetMap');

  await connectionRows().first().click();
  expect(await connectionRows().first().getAttribute('aria-pressed')).toBe('true');
  const firstPoints = want.find((g) => rows[0]!.includes(`${g.person.first_name} ${g.person.last_name}`))!;
  await page.locator('.map path.meeting-point.highlighted').first().waitFor();
  expect(await page.locator('.map path.meeting-point.highlighted').count()).toBe(firstPoints.match_count);
  await page.screenshot({ path: join(SHOTS, '02-taco-fargo.png'), fullPage: true });
});

test('changing the distance changes the result', async () => {
  const totalShown = async () => {
    await waitForResults();
    const texts = await connectionRows().allTextContents();
    return { people: texts.length, matches: texts.reduce((n, t) => n + Number(/(\d+) match/.exec(t)?.[1] ?? 0), 0) };
  };
  const sum = (gs: Group[]) => ({ people: gs.length, matches: gs.reduce((n, g) => n + g.match_count, 0) });
  const at5 = await totalShown();

  await page.getByLabel('Distance (m)').fill('10000');
  const want10k = sum(await apiGroups('10000'));
  await poll(totalShown, want10k);
  expect(want10k).not.toEqual(at5);
  await page.screenshot({ path: join(SHOTS, '03-distance-10000.png'), fullPage: true });

  await page.getByLabel('Distance (m)').fill('0.5');
  const wantSmall = sum(await apiGroups('0.5'));
  await poll(totalShown, wantSmall);
  if (wantSmall.people === 0) expect(await page.getByText('No connections in this range').isVisible()).toBe(true);
});

test('when person-api is down, reloading shows the error banner, not a blank page', async () => {
  api.closeAllConnections();
  await new Promise((r) => api.close(r));
  await page.reload();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  // The page asks who the token is first: that is what fails. The token is kept (it was not refused).
  expect(await alert.textContent()).toContain('Could not check your sign-in. The API answered 502');
  expect(await page.getByRole('heading', { name: 'UdaConnect' }).isVisible()).toBe(true);
  expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
  expect(await storedToken(page)).toBe(organizer);
  await page.screenshot({ path: join(SHOTS, '04-api-down.png'), fullPage: true });
});

test('no Content-Security-Policy violation, script error or dialog on the page', async () => {
  expect(await watch.violations()).toEqual([]);
  expect(watch.dialogs).toEqual([]);
  // Only what the test provoked: the aborted tiles and the 502 while person-api was down.
  const unexpected = watch.errors.filter((e) => !/ERR_FAILED|status of 502/.test(e));
  expect(unexpected).toEqual([]);
});
