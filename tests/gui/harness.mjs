// The browser tests' common part: Debian's Chromium launched through
// playwright-core (the system executable: no browser download), a fresh
// context per scenario, screenshots, the login, fetch from inside the
// page, and the runner (one line per scenario, a closing line, exit 1 if
// any failed). Used by gui.mjs (its scenario modules) and
// firewall_netns.mjs.
//
// Environment: BULWARK_URL (http://ADDRESS:PORT), BULWARK_ADMIN_PASSWORD,
// BULWARK_SHOTS (directory), CHROMIUM (default /usr/bin/chromium),
// BULWARK_GUI_ONLY=TEXT (only the scenarios whose name has TEXT).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.BULWARK_URL;
export const ADMIN_PW = process.env.BULWARK_ADMIN_PASSWORD;
export const SHOTS = process.env.BULWARK_SHOTS;
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

if (!BASE || !ADMIN_PW) {
  console.error('gui: BULWARK_URL and BULWARK_ADMIN_PASSWORD are required (run through test_gui.py or test_gui_netns.py)');
  process.exit(2);
}
if (SHOTS) mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // the flags this machine's Chromium needs (no sandbox as root, no
  // network of its own); playwright gives it a fresh --user-data-dir
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60000,
});

// A page in a fresh context; CSP violations and script errors fail the test.
export async function open(viewport = DESKTOP) {
  const ctx = await browser.newContext({ viewport, baseURL: BASE });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.problems.push(m.text());
  });
  return { ctx, page };
}

export async function shot(page, name, opts = {}) {
  if (!SHOTS) return;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), ...opts });
}

// one element of the page (a card below the fold)
export async function shotOf(locator, name) {
  if (!SHOTS) return;
  await locator.screenshot({ path: join(SHOTS, `${name}.png`) });
}

export async function login(page, user, password) {
  await page.goto('/');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

export async function adminPage(viewport) {
  const o = await open(viewport);
  await login(o.page, 'admin', ADMIN_PW);
  await o.page.waitForSelector('#ext-table tbody tr');
  return o;
}

// fetch from inside the page: the session cookie goes with it
export function inPage(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const s = await (await fetch('/api/v1/session', { headers: { 'X-Bulwark-GUI': '1' } })).json().catch(() => ({}));
    const headers = { 'X-Bulwark-GUI': '1' };
    if (m !== 'GET' && s.csrf) headers['X-CSRF-Token'] = s.csrf;
    if (b) headers['Content-Type'] = 'application/json';
    const r = await fetch(p, { method: m, headers, body: b ? JSON.stringify(b) : undefined });
    let data = null;
    try { data = await r.json(); } catch { data = null; }
    return { status: r.status, data };
  }, [method, path, body]);
}

export function noOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

const tests = [];
export const test = (name, fn) => tests.push({ name, fn });

// Run the scenarios registered with test(), in order; then exit.
export async function run() {
  // BULWARK_GUI_ONLY=TEXT: only the scenarios whose name has TEXT (while
  // working on one; test_gui.py's checks afterwards expect them all)
  const only = process.env.BULWARK_GUI_ONLY;
  const chosen = only ? tests.filter((t) => t.name.includes(only)) : tests;
  const started = Date.now();
  let failed = 0;
  for (const [i, t] of chosen.entries()) {
    const t0 = Date.now();
    try {
      await t.fn();
      console.log(`ok ${i + 1} - ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok ${i + 1} - ${t.name}\n  ${String(e.stack || e).split('\n').slice(0, 6).join('\n  ')}`);
    }
  }
  await browser.close();
  console.log(`# gui: ${chosen.length - failed} passed, ${failed} failed of ${chosen.length} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(failed ? 1 : 0);
}
