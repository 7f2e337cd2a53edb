/**
 * Swagger UI in headless Chromium under person-api's strict Content-Security-Policy: the page
 * loads with no violation and no script error, and its Authorize button works — a token pasted
 * there is sent as `Authorization: Bearer …` by "Try it out", and the call answers 200.
 */
import http from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { closeHttpServer, listen } from '@udaconnect/common';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { ensureChromium, launchChromium, parseCsp, SHOTS, watchPage, type PageWatch } from './browser-support';

let h: Harness;
let server: http.Server;
let base: string;
let browser: Browser;
let page: Page;
let watch: PageWatch;

beforeAll(async () => {
  ensureChromium();
  h = await startTestPersonApi('swaggerui');
  server = http.createServer(h.app);
  base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  browser = await launchChromium();
  page = await browser.newPage();
  watch = await watchPage(page);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server?.listening) await closeHttpServer(server);
  await h?.close();
});

test('Swagger UI runs under its CSP, and Authorize sends the bearer token', async () => {
  const res = await page.goto(`${base}/`);
  expect(res?.status()).toBe(200);
  const csp = parseCsp(res?.headers()['content-security-policy']);
  expect(csp['script-src']).toEqual(["'self'"]);
  expect(csp['frame-ancestors']).toEqual(["'none'"]);
  expect(csp['style-src']?.every((s) => s === "'self'" || s === "'unsafe-hashes'" || s.startsWith("'sha256-"))).toBe(true);

  await page.waitForSelector('.opblock', { timeout: 30_000 });
  await page.click('button.authorize');
  await page.fill('.auth-container input', h.auth.organizer);
  await page.click('.auth-btn-wrapper button.authorize');
  await page.click('.auth-btn-wrapper button.btn-done');

  const op = page.locator('.opblock-get', { has: page.locator('[data-path="/api/persons"]') }).first();
  await op.locator('.opblock-summary').first().click();
  await op.locator('button.try-out__btn').click();
  const sent = page.waitForRequest((r) => r.url().startsWith(`${base}/api/persons`) && r.method() === 'GET');
  await op.locator('button.execute').click();
  expect((await sent).headers()['authorization']).toBe(`Bearer ${h.auth.organizer}`);
  await op.locator('.live-responses-table tr.response .response-col_status').first().waitFor({ timeout: 15_000 });
  expect((await op.locator('.live-responses-table tr.response .response-col_status').first().textContent())?.trim()).toBe('200');
  await page.screenshot({ path: join(SHOTS, 'swagger-ui-authorized.png'), fullPage: false });

  expect(await watch.violations()).toEqual([]);
  expect(watch.errors).toEqual([]);
  expect(watch.dialogs).toEqual([]);
}, 90_000);
