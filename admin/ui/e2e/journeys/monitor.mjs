// The process monitor, as a process owner: the heat map of "Approve a discount" shows three instances
// waiting at the review; the list pages through them two at a time (cursor paging, forward and back);
// clicking the element lists them, the business key finds one, its card shows the review active. The
// owner suspends it (a dialog refuses an empty reason, Escape closes it and gives the focus back),
// changes the priority variable, moves the token from the review to the filing step by clicking both on
// the diagram, resumes it and sees it complete. Then three instances of "Notify the warehouse" stopped at
// incidents are selected and retried in bulk: the dry run counts them, the progress bar fills, every
// result is "done"; one incident is retried from its card, another skipped (its instance completes). A
// migration to the version an instance runs is refused in its dialog with the server's problem, one to
// version 2 is previewed on the card, and the instances still waiting in version 1 are migrated to
// version 2 in bulk after the preview table. Of three instances of "Wait for the reply", one gets its
// message delivered on the customer's behalf (and completes), one is cancelled and one terminated. The
// monitor and the card again in Russian. A task record's Processes tab links to the card of the instance
// it started. axe-core on each page and with a dialog open; the designer's page links to the monitor;
// bpmn-js is loaded only there.
import { params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

async function dialogSubmit(page, id, reason) {
  await page.fill(`#${id}-reason`, reason);
  await page.click(`[data-testid=${id}] button[type=submit]`);
  await page.locator(`[data-testid=${id}] [role=status]`).waitFor();
  await page.click(`[data-testid=${id}] button[data-close]`);
  await page.waitForFunction((sel) => !document.querySelector(sel).open, `[data-testid=${id}]`);
}

async function stateIs(page, word) {
  await page.waitForFunction((w) => document.querySelector('[data-testid=instance-state]')?.textContent.trim() === w, word, { timeout: 60000 });
}

/** Waits until the instance list shows n rows, and returns their instance IDs. */
async function rowsAre(page, n) {
  await page.waitForFunction((k) => document.querySelectorAll('[data-testid=instances] tbody tr[data-instance]').length === k, n);
  return page.$$eval('[data-testid=instances] tbody tr[data-instance]', (trs) => trs.map((tr) => tr.dataset.instance));
}

/** Runs an operation of the card's toolbar: opens its dialog and submits it with the reason. */
async function operation(page, button, id, reason) {
  await page.click(`[data-testid=operations] button:has-text("${button}")`);
  await dialogSubmit(page, id, reason);
}

/** Opens a card stopped at an incident and retries or skips it with the reason. */
async function incident(page, instance, button, id, reason) {
  await open(page, `/instances/${instance}`);
  await page.waitForSelector('[data-testid=incidents] tbody tr');
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Call].rp-incident');
  await page.click(`[data-testid=incidents] button:has-text("${button}")`);
  await dialogSubmit(page, id, reason);
}

/** Runs a bulk operation on the chosen scope: the dry run counts n instances, then the batch does each. */
async function bulk(page, { op, version, reason, n, preview }) {
  await page.selectOption('#bulk-op', op);
  if (version) await page.selectOption('#bulk-version', version);
  await page.fill('#bulk-reason', reason);
  await page.click('[data-testid=bulk] button[type=submit]');
  await page.locator('[data-testid=bulk-preview]', { hasText: `${n} instances would be operated` }).waitFor();
  await preview?.();
  await page.click('[data-testid=bulk] button.primary:has-text("Run")');
  await page.waitForSelector('[data-testid=batch] progress');
  await page.waitForSelector('[data-testid=batch][data-state=completed]', { timeout: 60000 });
  const done = await page.locator('[data-testid=batch-results] tr[data-result=done]').count();
  expect(done === n, `${done} instances done by the ${op} batch, want ${n}: ${await text(page, '[data-testid=batch]')}`);
}

export default async function (browser) {
  const { owner, instance, other, flaky, skipped, replied, cancelled, terminated, task, followUp } = params;
  const page = await newPage(browser, { lang: 'en' });
  const scripts = [];
  page.on('request', (r) => r.resourceType() === 'script' && scripts.push(r.url()));
  await signIn(page, owner.email, owner.password);

  // From the navigation to the monitor's process list, and on to the process.
  expect(!scripts.some((u) => /modeler|canvas|viewer/.test(u)), 'bpmn-js loaded before a process page: ' + scripts.join(' '));
  await page.click('nav.sidebar a[href="#/monitor"]');
  await page.waitForSelector('[data-testid=monitor-processes] a[href="#/monitor/e2e-monitor"]');
  await checkA11y(page, 'monitor processes');
  await page.click('[data-testid=monitor-processes] a[href="#/monitor/e2e-monitor"]');
  await page.waitForSelector('main h1:has-text("Approve a discount")');
  // Version 2 is shown first; the instances run version 1.
  await page.waitForSelector('[data-testid=heatmap] [data-element-id=Review]');
  await page.selectOption('#mon-version', '1');
  await page.waitForFunction(() => location.hash.includes('version=1'));

  // The heat map: three active at the review.
  await page.waitForSelector('[data-testid=heatmap] [data-element-id=Review].rp-active');
  const badge = await text(page, '[data-testid=heatmap] .djs-overlay .rp-badge.active');
  expect(badge === '3', `heat map badge at the review: ${badge}`);
  await page.locator('[data-testid=heat-table] tbody tr', { hasText: 'Review the discount' }).locator('td.num').first().filter({ hasText: '3' }).waitFor();
  await page.locator('[data-testid=state-counts] [data-state=waiting]', { hasText: '3' }).waitFor();
  await checkA11y(page, 'monitor');
  expect(scripts.some((u) => /\/canvas-/.test(u)) && !scripts.some((u) => /\/modeler-/.test(u)), 'the monitor should load the viewer, not the modeler: ' + scripts.join(' '));

  // Cursor paging, two a page: the next page holds the third instance and no further page, the previous
  // page the first two again.
  await open(page, '/monitor/e2e-monitor?version=1&limit=2');
  const first = await rowsAre(page, 2);
  expect(await page.isEnabled('main button:has-text("Next page")') && await page.isDisabled('main button:has-text("Previous page")'), 'paging buttons on the first page');
  await page.click('main button:has-text("Next page")');
  const second = await rowsAre(page, 1);
  expect(!first.includes(second[0]), `the second page repeats the first: ${first} then ${second}`);
  await page.waitForFunction(() => [...document.querySelectorAll('main button')].find((b) => b.textContent.trim() === 'Next page')?.disabled);
  await page.click('main button:has-text("Previous page")');
  await page.waitForFunction((ids) => [...document.querySelectorAll('[data-testid=instances] tbody tr[data-instance]')].map((tr) => tr.dataset.instance).join() === ids, first.join());
  await open(page, '/monitor/e2e-monitor?version=1');
  await page.waitForSelector('[data-testid=heatmap] [data-element-id=Review].rp-active');

  // Clicking the element filters the list by it.
  await page.click('[data-testid=heatmap] [data-element-id=Review]');
  await page.waitForFunction(() => location.hash.includes('element=Review'));
  await rowsAre(page, 3);
  // The business key narrows it to one; its link opens the card.
  await page.fill('#mon-key', 'MON-1');
  await page.click('form.filters button[type=submit]');
  await rowsAre(page, 1);
  await page.click(`[data-testid=instances] a[href="#/instances/${instance}"]`);

  // The card: the review is active, the start passed.
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Review].rp-active');
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Start].rp-path');
  await stateIs(page, 'waiting');
  await checkA11y(page, 'instance card');

  // Suspend, from the keyboard: the dialog takes the focus, refuses an empty reason, Escape closes it.
  const suspend = page.locator('[data-testid=operations] button', { hasText: 'Suspend' });
  await suspend.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'dlg-suspend-reason');
  await checkA11y(page, 'suspend dialog');
  await page.click('[data-testid=dlg-suspend] button[type=submit]');
  await page.locator('[data-testid=dlg-suspend] .field-error', { hasText: 'reason' }).waitFor();
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('[data-testid=dlg-suspend]').open);
  expect(await page.evaluate(() => document.activeElement?.textContent.trim()) === 'Suspend', 'the focus did not return to the Suspend button');
  await page.keyboard.press('Enter');
  await dialogSubmit(page, 'dlg-suspend', 'checking the discount');
  await stateIs(page, 'suspended');

  // Change the priority in the typed form.
  await page.click('[data-testid=operations] button:has-text("Change variables")');
  await page.fill('#var-priority', '7');
  await dialogSubmit(page, 'dlg-variables', "raised by the customer's call");
  await page.locator('[data-testid=variables] tr[data-variable=priority]', { hasText: '7' }).waitFor();

  // Move the token: the review (the only active element) is the source, a click on the filing step the target.
  await page.click('[data-testid=operations] button:has-text("Move token")');
  await page.locator('[data-testid=move-hint]', { hasText: 'Review the discount' }).waitFor();
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Review].rp-source');
  await page.click('[data-testid=instance-diagram] [data-element-id=Archive]');
  await page.waitForFunction(() => document.querySelector('[data-testid=dlg-move]').open);
  expect(await page.inputValue('#move-from') === 'Review' && await page.inputValue('#move-to') === 'Archive', 'the move dialog did not take the clicked elements');
  await dialogSubmit(page, 'dlg-move', 'approved by phone');

  // Resume: the held token passes the filing step and the instance completes.
  await operation(page, 'Resume', 'dlg-resume', 'done checking');
  await stateIs(page, 'completed');
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Archive].rp-path');
  const timeline = await text(page, '[data-testid=timeline]');
  for (const w of ['checking the discount', "raised by the customer's call", 'approved by phone', 'done checking']) {
    expect(timeline.includes(w), `the timeline lacks "${w}": ${timeline.slice(0, 400)}`);
  }
  expect(!(await page.locator('[data-testid=operations]').count()), 'operations offered on a completed instance');

  // Bulk retry of three incidents, selected in the list.
  await open(page, '/monitor/e2e-flaky');
  await page.waitForSelector('[data-testid=heatmap] [data-element-id=Call].rp-incident');
  await page.click('[data-testid=state-counts] [data-state=incident]');
  await rowsAre(page, 3);
  await page.check('[data-testid=instances] thead input[type=checkbox]');
  await page.locator('[data-testid=bulk] label', { hasText: 'The selected instances (3)' }).waitFor();
  expect(await page.isChecked('input[name=bulk-scope][value=selected]'), 'the selection is not the scope');
  await bulk(page, { op: 'retry', reason: 'the warehouse is back', n: 3, preview: () => checkA11y(page, 'bulk dry run') });
  const progress = await page.evaluate(() => { const p = document.querySelector('#bulk-progress'); return [p.value, p.max]; });
  expect(progress[0] === 3 && progress[1] === 3, `progress bar at ${progress}`);
  await checkA11y(page, 'bulk progress');

  // One incident retried from its card: the task fails again, a new incident is shown.
  await incident(page, flaky, 'Retry', 'dlg-retry', 'one more try');
  await page.locator('[data-testid=timeline]', { hasText: 'one more try' }).waitFor();
  // Another skipped: its instance goes on as if the call had returned, and completes.
  await incident(page, skipped, 'Skip', 'dlg-skip', 'the warehouse is told by phone');
  await stateIs(page, 'completed');

  // A migration previewed on a card: the waiting instance can move to version 2.
  await open(page, `/instances/${other}`);
  await page.click('[data-testid=operations] button:has-text("Migrate")');
  // Refused by the server: the dialog shows the problem and stays open.
  await page.selectOption('#migrate-to', '1');
  await page.fill('#dlg-migrate-reason', 'the same version');
  await page.click('[data-testid=dlg-migrate] button[type=submit]');
  await page.locator('[data-testid=dlg-migrate] .problem', { hasText: 'already' }).waitFor();
  await page.selectOption('#migrate-to', '2');
  await page.click('[data-testid=dlg-migrate] button:has-text("Preview")');
  await page.locator('[data-testid=migration-preview] caption', { hasText: 'It can migrate from version 1 to 2.' }).waitFor();
  await checkA11y(page, 'migration preview');
  await page.keyboard.press('Escape');

  // Bulk migration of everything waiting in version 1, after the preview table.
  await open(page, '/monitor/e2e-monitor?version=1&state=waiting');
  await rowsAre(page, 2);
  await page.check('input[name=bulk-scope][value=filter]');
  await bulk(page, {
    op: 'migrate', version: '2', reason: 'the ledger step replaces filing', n: 2,
    preview: async () => {
      const plans = await page.locator('[data-testid=migration-plans] tbody tr', { hasText: 'yes' }).count();
      expect(plans === 2, `migration preview rows that can migrate: ${plans}, want 2`);
    },
  });

  // A message delivered on the customer's behalf: the instance waiting for it goes on and completes.
  await open(page, `/instances/${replied}`);
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Reply].rp-active');
  await page.click('[data-testid=operations] button:has-text("Deliver a message")');
  await page.locator('#msg-which option', { hasText: 'order.reply = ORD-1' }).waitFor({ state: 'attached' });
  await checkA11y(page, 'deliver a message dialog');
  await dialogSubmit(page, 'dlg-correlate', 'the customer replied by phone');
  await stateIs(page, 'completed');
  // The other two end by hand: one cancelled, one terminated; neither offers operations any more.
  for (const [id, button, dlg, reason, state] of [
    [cancelled, 'Cancel instance', 'dlg-cancel', 'the order was withdrawn', 'cancelled'],
    [terminated, 'Terminate', 'dlg-terminate', 'the order is broken', 'terminated'],
  ]) {
    await open(page, `/instances/${id}`);
    await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Reply].rp-active');
    await operation(page, button, dlg, reason);
    await stateIs(page, state);
    await page.locator('[data-testid=timeline]', { hasText: reason }).waitFor();
    expect(!(await page.locator('[data-testid=operations]').count()), `operations offered on a ${state} instance`);
  }

  // A record's Processes tab links to the card of the instance it started.
  await open(page, `/records/task/${task}`);
  await page.click('[role=tab]#tab-processes');
  await page.click(`[data-testid=record-instances] a[href="#/instances/${followUp}"]`);
  await page.waitForSelector('[data-testid=instance-diagram] [data-element-id=Check].rp-active');
  await page.locator('[data-testid=instance-facts]', { hasText: 'task' }).waitFor();

  // The designer's page links to the monitor.
  await open(page, '/processes/e2e-monitor');
  await page.waitForSelector('[data-testid=open-monitor]');
  noErrors(page);
  await page.context().close();

  // Russian.
  const ru = await newPage(browser, { lang: 'ru' });
  await signIn(ru, owner.email, owner.password);
  await open(ru, '/monitor/e2e-monitor');
  await ru.waitForSelector('main h1:has-text("Мониторинг: Approve a discount")');
  await ru.waitForSelector('[data-testid=heatmap] [data-element-id=Review].rp-active');
  await ru.locator('[data-testid=state-counts] [data-state=waiting]', { hasText: '2' }).waitFor();
  await ru.locator('h2', { hasText: 'Где ждут экземпляры' }).waitFor();
  await checkA11y(ru, 'monitor (ru)');
  await ru.click('[data-testid=instances] tbody tr[data-instance] a');
  await ru.locator('[data-testid=operations] button', { hasText: 'Приостановить' }).waitFor();
  await ru.waitForSelector('[data-testid=instance-diagram] [data-element-id=Review].rp-active');
  await checkA11y(ru, 'instance card (ru)');
  await ru.click('[data-testid=operations] button:has-text("Приостановить")');
  await ru.locator('[data-testid=dlg-suspend] h2', { hasText: 'Приостановка экземпляра' }).waitFor();
  await checkA11y(ru, 'suspend dialog (ru)');
  await ru.keyboard.press('Escape');
  noErrors(ru);
  await ru.context().close();
}
