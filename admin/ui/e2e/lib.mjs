// What every browser journey shares: Debian's Chromium through playwright-core (never a downloaded
// browser), sign-in, axe-core checks, and a screenshot when a journey fails.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const base = process.env.RAPPORT_BASE_URL;
export const params = JSON.parse(process.env.RAPPORT_E2E_PARAMS || '{}');
export const artifacts = process.env.RAPPORT_E2E_ARTIFACTS || path.resolve('e2e', 'artifacts');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** A fresh browser context and page that records script errors and CSP violations. */
export async function newPage(browser, { lang = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: lang === 'ru' ? 'ru-RU' : 'en-GB', timezoneId: 'Europe/Moscow' });
  await context.addInitScript((l) => localStorage.setItem('rapport.lang', l), lang);
  const page = await context.newPage();
  // Generous: on a loaded 2-core CI machine other test packages run beside the browser; every wait ends
  // as soon as its condition holds.
  page.setDefaultTimeout(40000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push('page error: ' + e.message));
  // Expected API refusals log "Failed to load resource"; CSP violations log "Refused to ...".
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.errors.push('console: ' + m.text());
  });
  return page;
}

export async function signIn(page, email, password) {
  await page.goto(base + '/');
  await page.fill('#login-email', email);
  await page.fill('#login-password', password);
  await page.click('form button[type=submit]');
  await page.waitForSelector('nav.sidebar');
}

export async function signOut(page) {
  await page.click('header button.link');
  await page.waitForSelector('#login-email');
}

/** Opens an app path and waits for its heading. */
export async function open(page, hashPath) {
  await page.goto(base + '/#' + hashPath);
  await page.waitForSelector('main h1');
  await page.waitForFunction(() => !document.querySelector('main .loading'));
}

/** Runs axe-core on the page and fails on serious or critical violations. */
export async function checkA11y(page, label) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`${label}: accessibility violations: ` + JSON.stringify(bad, null, 1));
  return res;
}

export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

export async function text(page, selector) {
  return (await page.textContent(selector))?.trim() || '';
}

/** Saves a screenshot of the page into the artifacts folder. */
export async function shot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name.replace(/[^a-zA-Z0-9_.-]+/g, '_') + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Fails when the page logged a script error or a Content-Security-Policy violation. */
export function noErrors(page) {
  if (page.errors.length) throw new Error('browser errors: ' + page.errors.join(' | '));
}
