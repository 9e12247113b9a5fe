// An administrator merges a duplicate company into another, imports leads from CSV (mapping, dry run, progress, results), creates an API token
// (shown once), configures and tests a connector from its plugin's JSON Schema, defines a role that may read and write leads but never sees their budget, and invites
// a user with it. That user sees only leads in the navigation, never the budget field (not in forms,
// lists, the schema the app loads, records or history, even after someone else sets a budget), and is
// refused administration pages.
import { base, params, newPage, signIn, signOut, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

export default async function (browser) {
  const { admin, adminToken } = params;
  const page = await newPage(browser);
  await signIn(page, admin.email, admin.password);

  // Merging duplicates: on one company's page, "Merge with…" picks the other; it is gone afterwards and
  // this one took its website.
  const made = async (rec) => {
    const r = await fetch(`${base}/api/v1/records/company`, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + adminToken, 'Content-Type': 'application/json' },
      body: JSON.stringify(rec),
    });
    expect(r.status === 201, `creating a company failed: ${r.status}`);
    return (await r.json()).id;
  };
  const keepId = await made({ name: 'Mergetest Keep Ltd' });
  const dupId = await made({ name: 'Mergetest Dup Ltd', website: 'https://dup.example.test' });
  await open(page, `/records/company/${keepId}`);
  await page.waitForSelector('#f-name');
  await page.getByRole('button', { name: 'Merge with…' }).click();
  await page.fill('#merge-duplicate', 'Mergetest Dup');
  await page.locator('#merge-duplicate-list [role=option]', { hasText: 'Mergetest Dup Ltd' }).click();
  await checkA11y(page, 'merge form');
  await page.locator('[data-testid=merge-form] button[type=submit]').click();
  await page.locator('.toast', { hasText: 'Merged' }).waitFor();
  await page.waitForFunction(() => document.querySelector('#f-website')?.value === 'https://dup.example.test');
  const gone = await fetch(`${base}/api/v1/records/company/${dupId}`, { headers: { Authorization: 'Bearer ' + adminToken } });
  expect(gone.status === 404, `the merged duplicate still answers ${gone.status}`);

  // The role, with a hidden field.
  await open(page, '/admin/roles/new');
  await page.fill('#role-name', 'junior-agent');
  await page.fill('#role-desc', 'Leads only, without budgets');
  for (const perm of ['tasks.read', 'tasks.complete', 'schemas.read']) {
    await page.locator('label', { hasText: perm }).locator('input[type=checkbox]').check();
  }
  await page.getByLabel('read Lead', { exact: true }).check();
  await page.getByLabel('write Lead', { exact: true }).check();
  await page.locator('details.field-row summary', { hasText: 'Lead' }).first().click();
  await page.getByLabel('Hide Lead Budget', { exact: true }).check();
  await checkA11y(page, 'role editor');
  await page.getByRole('button', { name: 'Save role' }).click();
  await page.locator('main table a', { hasText: 'junior-agent' }).waitFor();

  // The user, with the role.
  await open(page, '/admin/users');
  await page.fill('#nu-email', 'junior@example.test');
  await page.fill('#nu-name', 'Junior Agent');
  await page.fill('#nu-password', 'junior-pass-123');
  await page.locator('[data-testid=new-user] label', { hasText: 'junior-agent' }).locator('input').check();
  await page.getByRole('button', { name: 'Invite' }).click();
  await page.getByRole('cell', { name: 'junior@example.test', exact: true }).waitFor();
  await checkA11y(page, 'users');

  // CSV import: the columns are matched to fields, a dry run finds the bad row, the import runs with
  // progress, and the row results can be downloaded.
  await open(page, '/import/lead');
  const csv = 'name,source,email\nImported One,call,one@example.test\nImported Two,nowhere,two@example.test\n';
  await page.setInputFiles('#imp-file', { name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.locator('[data-testid=mapping]').waitFor();
  expect((await page.inputValue('#map-0')) === 'name' && (await page.inputValue('#map-1')) === 'source', 'the columns were not matched to fields');
  await page.getByRole('button', { name: 'Dry run' }).click();
  const dry = page.locator('[data-testid=dry-run]');
  await dry.waitFor();
  expect((await dry.textContent()).includes('2 rows: 1 valid, 1 invalid'), `dry run says: ${await dry.textContent()}`);
  await checkA11y(page, 'import');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const job = page.locator('[data-testid=import-job]');
  await job.locator('a', { hasText: 'Download row results' }).waitFor();
  const jobText = await job.textContent();
  expect(jobText.includes('2 of 2 rows') && jobText.includes('created 1') && jobText.includes('failed 1'), `import job: ${jobText}`);
  const results = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, body: await r.text() };
  }, await job.locator('a').getAttribute('href'));
  expect(results.status === 200 && results.body.trim().split('\n').length === 3, `row results: ${results.status} ${results.body}`);
  // An API token is shown once.
  await open(page, '/admin/tokens');
  await page.fill('#tk-name', 'e2e-integration');
  await page.locator('label', { hasText: '*' }).first().locator('input').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = await page.locator('[data-testid=token-value]').textContent();
  expect(secret.length > 20, `token secret: ${secret}`);
  const me = await fetch(`${base}/api/v1/auth/me`, { headers: { Authorization: 'Bearer ' + secret } });
  expect(me.status === 200, `the new token does not authenticate: ${me.status}`);
  await page.getByRole('button', { name: 'I have copied it' }).click();
  expect((await page.locator('[data-testid=token-secret]').count()) === 0, 'the secret stays on the page');
  expect(!(await text(page, 'main')).includes(secret), 'the token list shows the secret');
  await checkA11y(page, 'tokens');

  // A connector configured from its plugin's JSON Schema, then tested.
  await open(page, '/admin/connectors');
  await page.getByRole('button', { name: 'New connector' }).click();
  await page.fill('#cn-name', 'erp');
  await page.getByLabel('dir').fill(params.erpDir);
  await checkA11y(page, 'connector form');
  await page.getByRole('button', { name: 'Save and check' }).click();
  const connector = page.locator('.card', { has: page.locator('h3', { hasText: 'erp' }) });
  await connector.waitFor();
  await connector.getByRole('button', { name: 'Test connection' }).click();
  await connector.locator('[role=status]', { hasText: 'Connection works' }).waitFor();
  await signOut(page);

  // The junior: leads only, no budget anywhere.
  await signIn(page, 'junior@example.test', 'junior-pass-123');
  const nav = await text(page, 'nav.sidebar');
  expect(nav.includes('Lead') && !nav.includes('Company') && !nav.includes('Users') && !nav.includes('Schemas'), `the junior's navigation: ${nav}`);
  await open(page, '/records/lead/new');
  expect((await page.locator('#f-budget').count()) === 0, 'the new lead form has a budget');
  expect((await page.locator('legend', { hasText: 'Budget' }).count()) === 0, 'the new lead form has a budget group');
  await page.selectOption('#f-source', 'call');
  await page.fill('#f-name', 'Junior Lead');
  await page.click('[data-testid=record-form] button[type=submit]');
  await page.waitForFunction(() => /#\/records\/lead\/[^/]+$/.test(location.hash) && !location.hash.endsWith('/new'));
  await page.waitForSelector('#f-name');
  const id = page.url().split('/').pop();

  // Someone allowed to sets a budget; the junior still never sees it.
  const cur = await (await fetch(`${base}/api/v1/records/lead/${id}`, { headers: { Authorization: 'Bearer ' + adminToken } })).json();
  const res = await fetch(`${base}/api/v1/records/lead/${id}`, {
    method: 'PATCH',
    headers: { Authorization: 'Bearer ' + adminToken, 'Content-Type': 'application/merge-patch+json', 'If-Match': `"${cur.version}"` },
    body: JSON.stringify({ budget: { amount: 98765, currency: 'RUB' } }),
  });
  expect(res.status === 200, `setting the budget as admin failed: ${res.status}`);
  await page.reload();
  await page.waitForSelector('#f-name');
  const seen = await page.evaluate(async (id) => {
    const rec = await (await fetch(`/api/v1/records/lead/${id}`)).text();
    const schema = await (await fetch('/api/v1/schemas/lead')).text();
    const list = await (await fetch('/api/v1/records/lead')).text();
    const history = await (await fetch(`/api/v1/records/lead/${id}/history`)).text();
    return { rec, schema, list, history, page: document.body.innerText };
  }, id);
  for (const [where, body] of Object.entries(seen)) {
    expect(!body.includes('98765') && !body.includes('98 765') && !body.includes('98,765'), `the hidden budget value appears in ${where}`);
    expect(where === 'page' || !body.includes('"budget"'), `the hidden field's name appears in ${where}: ${body.slice(0, 300)}`);
  }
  expect((await page.locator('#f-budget').count()) === 0, 'the lead page has a budget input');
  expect((await page.locator('legend', { hasText: 'Budget' }).count()) === 0, 'the lead page has a budget group');
  await page.click('#tab-history');
  await page.locator('[data-testid=history] li').first().waitFor();
  expect(!(await text(page, '[data-testid=history]')).includes('Budget'), 'history shows the budget');
  await checkA11y(page, 'junior record');
  await open(page, '/records/lead');
  expect((await page.locator('main label', { hasText: /^\s*Budget\s*$/ }).count()) === 0, 'the lead list offers the budget as a column');

  // Administration is refused with a message.
  await open(page, '/admin/users');
  await page.locator('.problem[data-status="403"]').waitFor();
  noErrors(page);
}
