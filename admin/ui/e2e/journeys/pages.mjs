// Every main page, as an administrator: it renders without script errors or CSP violations and has no
// serious or critical axe-core violation, in English and (checked on the sign-in page and two forms)
// Russian. With RAPPORT_SCREENSHOTS set, a screenshot of each page in both languages is saved there.
// Also: a wrong password is refused on the sign-in page, a network failure offers a retry, the export
// link exports the list, the complaints board marks a passed deadline, and the API docs page makes a
// write call with the session cookie (its CSRF header).
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { base, params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

export const PAGES = [
  ['my-day', '/my-day'],
  ['inbox', '/inbox'],
  ['records', '/records/lead'],
  ['record', '/records/lead/{lead}'],
  ['record-new', '/records/contact/new'],
  ['leads-board', '/boards/leads'],
  ['complaints-board', '/boards/complaints'],
  ['import', '/import/lead'],
  ['schemas', '/schemas'],
  ['schema-editor', '/schemas/contact'],
  ['rulesets', '/rulesets'],
  ['ruleset-new', '/rulesets/new?key=route&kind=decision_table&entity=lead'],
  ['calendars', '/calendars'],
  ['processes', '/processes'],
  ['process-designer', '/processes/e2e-call'],
  ['monitor', '/monitor/e2e-call'],
  ['instance', '/instances/{instance}'],
  ['users', '/admin/users'],
  ['teams', '/admin/teams'],
  ['roles', '/admin/roles'],
  ['role', '/admin/roles/agent'],
  ['tokens', '/admin/tokens'],
  ['connectors', '/admin/connectors'],
  ['audit', '/admin/audit'],
  ['profile', '/profile'],
  ['notifications', '/notifications'],
];

export default async function (browser) {
  const { admin, lead, instance } = params;
  const dir = process.env.RAPPORT_SCREENSHOTS;
  if (dir) mkdirSync(dir, { recursive: true });

  for (const lang of ['en', 'ru']) {
    const page = await newPage(browser, { lang });
    await page.goto(base + '/');
    await page.waitForSelector('#login-email');
    await checkA11y(page, `sign-in (${lang})`);
    if (dir) await page.screenshot({ path: path.join(dir, `${lang}-sign-in.png`), fullPage: true });
    if (lang === 'en') {
      await page.fill('#login-email', admin.email);
      await page.fill('#login-password', 'wrong password');
      await page.click('form button[type=submit]');
      await page.locator('#login-error', { hasText: 'wrong' }).waitFor();
    }
    await signIn(page, admin.email, admin.password);
    const heading = await text(page, 'nav.sidebar');
    expect(lang === 'en' ? heading.includes('Administration') : heading.includes('Администрирование'), `navigation in ${lang}: ${heading.slice(0, 100)}`);
    for (const [name, p] of PAGES) {
      // Every page in English; in Russian the ones whose words differ most (forms and tables), unless
      // screenshots are wanted.
      if (lang === 'ru' && !dir && !['record', 'schema-editor', 'role'].includes(name)) continue;
      await open(page, p.replace('{lead}', lead.id).replace('{instance}', instance));
      await page.waitForTimeout(150);
      await checkA11y(page, `${name} (${lang})`);
      if (dir) await page.screenshot({ path: path.join(dir, `${lang}-${name}.png`), fullPage: true });
    }
    noErrors(page);

    if (lang === 'en') {
      // The keyboard: the first Tab reaches a visible "skip to content" link with a focus ring, and
      // following it puts the focus on the page.
      await open(page, '/records/lead');
      await page.reload();
      await page.waitForSelector('main h1');
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        const cs = getComputedStyle(el);
        return { cls: el.className, left: el.getBoundingClientRect().left, outline: cs.outlineStyle, width: cs.outlineWidth };
      });
      expect(focus.cls === 'skip' && focus.left >= 0 && focus.outline !== 'none' && focus.width !== '0px', `first Tab: ${JSON.stringify(focus)}`);
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.id === 'main'), 'the skip link did not move the focus to the page');

      // A network failure is shown with a retry, which then works.
      let fail = true;
      await page.route('**/api/v1/records/lead?**', (route) => (fail ? route.abort('connectionrefused') : route.continue()));
      await page.goto(base + '/#/records/lead?q=Olga');
      await page.locator('.problem[data-status="0"]', { hasText: 'Cannot reach the server' }).waitFor();
      fail = false;
      await page.locator('.problem').getByRole('button', { name: 'Retry' }).click();
      await page.locator('[data-testid=record-table] a', { hasText: 'Olga' }).first().waitFor();
      await page.unroute('**/api/v1/records/lead?**');
      page.errors = page.errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED'));

      // Export: the link exports what the list shows.
      const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
      const exported = await page.evaluate(async (h) => {
        const r = await fetch(h);
        return { status: r.status, type: r.headers.get('Content-Type'), body: await r.text() };
      }, href);
      expect(exported.status === 200 && exported.type.startsWith('text/csv') && exported.body.includes('Olga'), `export: ${exported.status} ${exported.type} ${exported.body.slice(0, 200)}`);

      // A record page lists the process instances bound to the record (none for this lead).
      await open(page, `/records/lead/${lead.id}`);
      await page.click('#tab-processes');
      await page.locator('[data-testid=record-instances]', { hasText: 'No processes for this record.' }).waitFor();
      await checkA11y(page, 'record processes');

      // The complaints board counts down to each deadline; a passed one is marked overdue.
      await open(page, '/boards/complaints');
      await page.locator('[data-testid=board] .overdue', { hasText: 'Response' }).waitFor();

      // The API docs after a cookie sign-in: "Try it out" on a write operation succeeds (CSRF header).
      await page.goto(base + '/api/docs/');
      await page.waitForSelector('.swagger-ui .info .title', { timeout: 90000 });
      expect((await text(page, '#auth-state')).includes('Signed in'), 'the docs page does not see the session');
      await page.goto(base + '/api/docs/#/auth/logout');
      const logout = page.locator('#operations-auth-logout');
      // Operations are collapsed until their tag is opened (the deep link opens it on a fresh load only).
      await page.locator('#operations-tag-auth').waitFor();
      if (!(await logout.count())) await page.locator('#operations-tag-auth').click();
      await logout.waitFor();
      if (!(await logout.locator('.try-out__btn').isVisible())) await logout.locator('.opblock-summary').click();
      await logout.locator('.try-out__btn').click();
      await logout.locator('.execute').click();
      // The live response (the documented responses list a 204 too).
      await logout.locator('.live-responses-table .response-col_status', { hasText: '204' }).first().waitFor();
      const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
      expect(me === 401, `after logging out through the docs, /auth/me says ${me}`);
    }
    await page.context().close();
  }
}
