// An analyst adds an enum field with a validation rule to the lead schema: a typo in the rule is
// underlined at its position before anything is saved; fixed, the new version is saved and the preview
// shows the field; completion offers fields and helpers; a breaking change is counted by a dry run
// before anything is saved. Then a scoring rule set is written, tried on a real lead on the test bench and over
// the last records, kept as a test case, published, and a later change is shown as a diff and refused
// because the saved test no longer passes.
import { params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

/** Types into the CodeMirror editor mounted for the input id. */
async function typeExpr(page, id, value) {
  const content = page.locator(`[data-expr="${id}"] .cm-content`);
  await content.waitFor();
  await content.fill(value);
}

/** Saves the rule set's draft and waits until nothing is left unsaved. */
async function saveDraft(page) {
  const save = page.getByRole('button', { name: 'Save draft' });
  await save.click();
  await page.waitForFunction(() => !document.querySelector('.tag')?.textContent.includes('unsaved') && [...document.querySelectorAll('button')].find((b) => b.textContent === 'Save draft')?.disabled);
}

export default async function (browser) {
  const { analyst, benchLead } = params;
  const page = await newPage(browser);
  await signIn(page, analyst.email, analyst.password);
  const nav = await text(page, 'nav.sidebar');
  expect(nav.includes('Schemas') && nav.includes('Rule sets'), `analyst navigation lacks the design pages: ${nav}`);
  expect(!nav.includes('Users'), 'analyst navigation shows user management');

  // Schema designer: a new enum field with a rule.
  await open(page, '/schemas');
  await checkA11y(page, 'schemas');
  await open(page, '/schemas/lead');
  await page.waitForSelector('[data-testid=schema-form]');
  const before = await page.locator('[data-testid=field-row]').count();
  await page.getByRole('button', { name: '+ Add field' }).last().click();
  const row = page.locator('[data-testid=field-row]').nth(before);
  const i = before;
  await page.fill(`#fe-fields-${i}-name`, 'tier');
  await page.selectOption(`#fe-fields-${i}-type`, 'enum');
  await page.fill(`#fe-fields-${i}-en`, 'Tier');
  await page.fill(`#fe-fields-${i}-ru`, 'Уровень');
  for (const [n, v, en, ru] of [[1, 'gold', 'Gold', 'Золото'], [2, 'silver', 'Silver', 'Серебро']]) {
    await row.getByRole('button', { name: '+ Add option' }).click();
    await row.getByLabel(`Option ${n} value`).fill(v);
    await row.getByLabel(`Option ${n} English label`).fill(en);
    await row.getByLabel(`Option ${n} Russian label`).fill(ru);
  }
  await row.getByRole('button', { name: '+ Add rule' }).click();
  const ruleId = `fe-fields-${i}-rule-0`;
  // Completion offers the entity's fields and the helper functions.
  const content = page.locator(`[data-expr="${ruleId}"] .cm-content`);
  await content.waitFor();
  await content.click();
  await page.keyboard.type('bud');
  await page.locator('.cm-tooltip-autocomplete li', { hasText: 'budget' }).first().waitFor();
  await page.keyboard.press('Escape');
  await content.fill('daysB');
  await page.keyboard.press('Control+Space');
  await page.locator('.cm-tooltip-autocomplete li', { hasText: 'daysBetween' }).first().waitFor();
  await page.keyboard.press('Escape');
  await typeExpr(page, ruleId, 'tier != "gold" || budget.amont >= 1000');
  await row.getByLabel('Message (English)').fill('Gold leads need a budget of 1000 or more');
  const ruleError = row.locator('[data-testid=rule-error]');
  await ruleError.waitFor();
  const message = await ruleError.textContent();
  expect(/\d+:\d+/.test(message) && message.includes('amont'), `the rule's error has no position: ${message}`);
  const underlined = await page.locator(`[data-expr="${ruleId}"] .cm-lintRange-error`).first().textContent();
  expect(underlined.includes('amont'), `the editor underlines "${underlined}", not the typo`);
  expect(await page.locator('[data-testid=schema-form] button[type=submit]').isDisabled(), 'a schema with an error can be saved');
  await checkA11y(page, 'schema editor with an error');

  await typeExpr(page, ruleId, 'tier != "gold" || budget.amount >= 1000');
  await ruleError.waitFor({ state: 'detached' });
  await page.locator('[data-testid=schema-check]', { hasText: 'tier' }).waitFor();
  await page.locator('.preview label', { hasText: 'Tier' }).waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid=schema-form] button[type=submit]').disabled);
  await page.click('[data-testid=schema-form] button[type=submit]');
  await page.locator('.toast', { hasText: 'Saved lead version' }).waitFor();

  // A breaking change is dry-run before saving: making the company name required counts the leads that
  // lack one and names an example; undoing it leaves nothing to save.
  const companyRow = page.locator('[data-testid=field-row]', { hasText: 'companyName' });
  await companyRow.locator('summary').click();
  await companyRow.getByLabel('Required').check();
  // (The panel may still show the check of the saved version, with no violations, until the new one lands.)
  await page.waitForFunction(() => /^[1-9]\d* of \d+ existing records would violate/.test(document.querySelector('[data-testid=violating]')?.textContent.trim() || ''));
  await page.locator('[data-testid=schema-check] li a').first().waitFor();
  await companyRow.getByLabel('Required').uncheck();
  await page.locator('[data-testid=schema-check]', { hasText: 'No changes.' }).waitFor();
  // A count can be added up when duplicates are merged, a last value kept from whichever record set it
  // last: the check names each change, undoing it leaves nothing to save.
  const scoreRow = page.locator('[data-testid=field-row]').filter({ has: page.locator('summary', { hasText: '· score ·' }) });
  await scoreRow.locator('summary').click();
  const mergeKind = scoreRow.getByLabel('When merging duplicates');
  await mergeKind.selectOption('sum');
  await page.locator('[data-testid=schema-check]', { hasText: 'score is added up when duplicates are merged' }).waitFor();
  await mergeKind.selectOption('latest');
  await page.locator('[data-testid=schema-check]', { hasText: 'score keeps the value set last when duplicates are merged' }).waitFor();
  await mergeKind.selectOption('');
  await page.locator('[data-testid=schema-check]', { hasText: 'No changes.' }).waitFor();

  // A scoring rule set, from the list page.
  await open(page, '/rulesets');
  await checkA11y(page, 'rule sets');
  await page.fill('#rs-key', 'lead-score-e2e');
  await page.selectOption('#rs-kind', 'scoring');
  await page.selectOption('#rs-entity', 'lead');
  await page.click('form.card button[type=submit]');
  await page.waitForSelector('[data-expr="r-0-when"] .cm-content');
  await page.fill('#r-0-name', 'big budget');
  await typeExpr(page, 'r-0-when', 'budget.amount >= 1000');
  await page.fill('#r-0-points', '30');
  await page.getByRole('button', { name: '+ Add rule' }).click();
  await page.fill('#r-1-name', 'partner');
  await typeExpr(page, 'r-1-when', 'sorce == "partner"');
  await page.fill('#r-1-points', '20');
  // A misspelt field is named at the rule with its position.
  const exprError = page.locator('[data-testid=expr-error]', { hasText: 'sorce' });
  await exprError.waitFor();
  expect(/line 1, column \d+/.test(await exprError.textContent()), 'the rule set error has no position');
  await page.locator('[data-expr="r-1-when"] .cm-lintRange-error', { hasText: 'sorce' }).waitFor();
  await typeExpr(page, 'r-1-when', 'source == "partner"');
  await page.locator('[data-testid=check-state]', { hasText: 'Compiles' }).waitFor();
  await checkA11y(page, 'rule set editor');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForSelector('#tab-bench');

  // Test bench: a real lead, then what-if over the last records.
  await page.click('#tab-bench');
  await page.fill('#bench-pick', benchLead.name.slice(0, 8));
  await page.locator('#bench-pick-list [role=option]', { hasText: benchLead.name }).click();
  await page.waitForFunction((name) => document.querySelector('#f-name')?.value === name, benchLead.name);
  await page.getByRole('button', { name: 'Evaluate the draft' }).click();
  const score = await page.locator('[data-testid=score]').textContent();
  expect(score === '50', `the bench scored ${score}, want 50`);
  await page.getByLabel('Test case name').fill('rich partner');
  await page.getByRole('button', { name: 'Save as a test case' }).click();
  await saveDraft(page);
  await page.getByLabel('Records', { exact: true }).fill('20');
  await page.getByRole('button', { name: 'Run on the last records' }).click();
  const whatIf = await page.locator('[data-testid=whatif]').textContent();
  expect(/\d+ of \d+ would change/.test(whatIf), `what-if says: ${whatIf.slice(0, 200)}`);
  await checkA11y(page, 'test bench');

  // Publish: version 1.
  await page.click('#tab-publish');
  await page.fill('#pub-note', 'first scoring of leads');
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await page.locator('[data-testid=published]', { hasText: 'Published version 1' }).waitFor();
  await checkA11y(page, 'publish');

  // A change: the diff against version 1 shows it; the saved test case now fails, so publishing refuses.
  await page.click('#tab-rules');
  await page.fill('#r-0-points', '35');
  await saveDraft(page);
  await page.click('#tab-publish');
  const diff = page.locator('[data-testid=diff]');
  await diff.locator('td', { hasText: 'points' }).first().waitFor();
  const d = await diff.textContent();
  expect(d.includes('30') && d.includes('35'), `the diff does not show 30 → 35: ${d}`);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await page.locator('.problem', { hasText: 'rich partner' }).waitFor();
  noErrors(page);
}
