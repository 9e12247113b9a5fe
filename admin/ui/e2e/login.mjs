// Signs in through the admin page in a real browser, checks what it shows, and signs out.
// Usage: node login.mjs <base URL> <email> <password>; exits non-zero with the reason on failure.
import { chromium } from 'playwright-core';

const [base, email, password] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Expected 401s (before sign-in, the wrong password) log "Failed to load resource"; CSP violations log
  // "Refused to ...", and those are what must not happen.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });

  await page.goto(base + '/');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'wrong password');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  const refusal = await page.textContent('#login-error');
  if (!/wrong/i.test(refusal)) throw new Error(`a wrong password showed "${refusal}"`);

  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#home:not([hidden])', { timeout: 15000 });
  const shown = await page.textContent('#user-email');
  if (shown !== email) throw new Error(`signed in as "${shown}", want ${email}`);
  await page.waitForFunction(() => document.querySelectorAll('#status li').length === 3, null, { timeout: 15000 });
  const status = await page.textContent('#status');
  for (const part of ['mongodb: ok', 'temporal: ok', 'worker: ok']) {
    if (!status.includes(part)) throw new Error(`status "${status}" lacks "${part}"`);
  }

  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])', { timeout: 15000 });
  await page.reload();
  await page.waitForSelector('#login:not([hidden])', { timeout: 15000 });

  await page.goto(base + '/api/docs/');
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 15000 });

  // Content-Security-Policy violations and script errors show up here.
  if (errors.length) throw new Error('browser errors: ' + errors.join(' | '));
  console.log('ok');
} finally {
  await browser.close();
}
