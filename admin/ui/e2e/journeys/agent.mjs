// An agent works "my day": sees the task due today with the lead's name, phone and link and the process
// task; completes the task form and claims the next task, offered to the agent's team (a missing required field is shown at the field first); edits the lead
// (an invalid email is refused at the field, a change made meanwhile by someone else is offered to
// reload or overwrite) and sees the change in the lead's history; records a call; and moves the lead on
// the leads board by dragging its card; a view saved on the leads list is there in another browser.
import { base, params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

export default async function (browser) {
  const { agent, lead, taskTitle, userTask, adminToken } = params;
  const page = await newPage(browser);
  await signIn(page, agent.email, agent.password);

  // Navigation by role: an agent has work and records, no administration.
  const nav = await text(page, 'nav.sidebar');
  expect(nav.includes('My day') && nav.includes('Task inbox'), `agent navigation lacks My day or the inbox: ${nav}`);
  expect(!nav.includes('Users') && !nav.includes('Schemas') && !nav.includes('Audit log'), `agent navigation shows administration: ${nav}`);

  // The bell: one unread notification, linking to the lead; opening it marks it read.
  const bell = page.locator('.bell > button');
  await page.waitForFunction(() => document.querySelector('.bell .badge')?.textContent === '1');
  await bell.click();
  await checkA11y(page, 'notifications bell');
  await page.locator('#bell-panel a', { hasText: 'Call Olga Petrova today' }).click();
  await page.waitForSelector('[data-testid=record-form]');
  expect((await text(page, 'main h1')) === lead.name, 'the notification does not lead to the lead');
  await page.waitForFunction(() => !document.querySelector('.bell .badge'));

  // My day: the due task with the related lead, and the process task.
  await open(page, '/my-day');
  const card = page.locator('[data-testid=myday-task]', { hasText: taskTitle });
  await card.waitFor();
  await card.locator('[data-testid=myday-related]', { hasText: lead.name }).waitFor();
  const phone = await card.locator('[data-testid=myday-phone]').textContent();
  expect(phone.replace(/\D/g, '').endsWith(lead.phone.replace(/\D/g, '').slice(-7)), `my day shows phone ${phone}, want ${lead.phone}`);
  await page.locator('[data-testid=myday-usertask]', { hasText: userTask }).waitFor();
  await checkA11y(page, 'my day');

  // The task form: required field refused at the field, then completed.
  await page.locator('[data-testid=myday-usertask] a', { hasText: userTask }).click();
  await page.waitForSelector('[data-testid=task-form]');
  await checkA11y(page, 'task inbox');
  await page.click('[data-testid=task-form] button[type=submit]');
  await page.waitForSelector('#f-outcome-err');
  expect((await text(page, '#f-outcome-err')).length > 0, 'no error at the required field');
  expect((await page.getAttribute('#f-outcome', 'aria-invalid')) === 'true', 'the required field is not marked invalid');
  await page.fill('#f-outcome', 'Interested; call back on Friday');
  await page.fill('#f-calls', '2');
  await page.click('[data-testid=task-form] button[type=submit]');
  await page.locator('.toast', { hasText: 'Task completed' }).waitFor();
  await page.waitForFunction((name) => !document.querySelector('table')?.textContent.includes(name), userTask);

  // The next task is offered to the agent's team: the agent claims it and it becomes theirs.
  await open(page, '/inbox?view=claimable');
  const offered = page.locator('[data-testid=inbox-row]', { hasText: 'Send the offer' });
  await offered.waitFor();
  await checkA11y(page, 'task inbox, offered tasks');
  await offered.locator('[data-testid=inbox-claim]').click();
  await page.locator('.toast', { hasText: 'Claimed' }).waitFor();
  await open(page, '/inbox?view=mine');
  await page.locator('[data-testid=inbox-row]', { hasText: 'Send the offer' }).locator('[data-testid=inbox-unclaim]').waitFor();

  // The lead: an invalid email is refused at the field (422).
  await open(page, '/my-day');
  await page.locator('[data-testid=myday-task]', { hasText: taskTitle }).locator('[data-testid=myday-related]').click();
  await page.waitForSelector('[data-testid=record-form]');
  // The heading shows the record's name once the record has loaded.
  await page.waitForFunction((name) => document.querySelector('main h1')?.textContent === name, lead.name, { timeout: 10000 }).catch(() => undefined);
  expect((await text(page, 'main h1')) === lead.name, 'the record page is not the lead');
  await page.fill('#f-email', 'not-an-email');
  await page.click('[data-testid=record-form] button[type=submit]');
  await page.waitForSelector('#f-email-err');
  await checkA11y(page, 'record page with an error');
  await page.fill('#f-email', 'buyer@example.test');
  await page.selectOption('#f-status', 'contacted');
  await page.click('[data-testid=record-form] button[type=submit]');
  await page.locator('.toast', { hasText: 'Saved' }).waitFor();

  // Someone else changes the lead meanwhile: saving says so, and overwriting keeps both changes.
  const current = await (await fetch(`${base}/api/v1/records/lead/${lead.id}`, { headers: { Authorization: 'Bearer ' + adminToken } })).json();
  const res = await fetch(`${base}/api/v1/records/lead/${lead.id}`, {
    method: 'PATCH',
    headers: { Authorization: 'Bearer ' + adminToken, 'Content-Type': 'application/merge-patch+json', 'If-Match': `"${current.version}"` },
    body: JSON.stringify({ companyName: 'Changed Elsewhere Ltd' }),
  });
  expect(res.status === 200, `the concurrent change failed: ${res.status}`);
  await page.fill('#f-need', 'Twenty seats from March');
  await page.click('[data-testid=record-form] button[type=submit]');
  const conflict = page.locator('[data-testid=conflict]');
  await conflict.waitFor();
  expect((await conflict.textContent()).includes('Changed by'), 'the conflict does not say who changed the record');
  await conflict.locator('button.danger').click();
  await conflict.waitFor({ state: 'detached' });
  expect((await page.inputValue('#f-need')) === 'Twenty seats from March', 'overwrite lost my change');
  expect((await page.inputValue('#f-companyName')) === 'Changed Elsewhere Ltd', 'overwrite lost the other change');

  // History: who changed what, field by field (reached with the keyboard: arrow keys move between tabs).
  await page.focus('#tab-details');
  await page.keyboard.press('ArrowRight');
  expect((await page.getAttribute('#tab-history', 'aria-selected')) === 'true', 'the right arrow did not select the History tab');
  const history = page.locator('[data-testid=history]');
  await history.locator('li').first().waitFor();
  const h = await history.textContent();
  expect(h.includes('Status') && h.includes('New') && h.includes('Contacted'), `history lacks the status change: ${h.slice(0, 400)}`);
  expect(h.includes('you'), 'history does not say the agent made the change');
  expect(h.includes('Need') && h.includes('Twenty seats from March'), 'history lacks the need change');
  await checkA11y(page, 'record history');

  // Interactions: record a call on the lead; it appears in the timeline.
  await page.click('#tab-timeline');
  await page.fill('#note-summary', 'Called about the offer');
  await page.click('#panel form button[type=submit]');
  await page.locator('[data-testid=timeline] li', { hasText: 'Called about the offer' }).waitFor();
  await checkA11y(page, 'record timeline');

  // The leads board: dragging the card to another column changes the status (one PATCH).
  await open(page, '/boards/leads');
  const leadCard = page.locator('[data-testid=board] article.card', { hasText: lead.name });
  await leadCard.waitFor();
  await leadCard.dragTo(page.locator('[data-column=qualified]'));
  await page.locator('[data-column=qualified] article.card', { hasText: lead.name }).waitFor();
  await page.locator('.toast', { hasText: 'moved to' }).waitFor();
  await checkA11y(page, 'leads board');

  // Saved views follow the person: one saved here is listed in a fresh browser with no local copy.
  await open(page, '/records/lead');
  const views = page.locator('details', { hasText: 'Saved views' });
  await views.locator('summary').click();
  await views.locator('input[type=text]').fill('Qualified this week');
  await views.locator('button[type=submit]').click();
  await page.locator('.toast', { hasText: 'View saved' }).waitFor();
  const elsewhere = await newPage(browser);
  await signIn(elsewhere, agent.email, agent.password);
  await open(elsewhere, '/records/lead');
  const there = elsewhere.locator('details', { hasText: 'Saved views' });
  await there.locator('summary').click();
  await there.locator('button.link', { hasText: 'Qualified this week' }).waitFor();
  noErrors(elsewhere);
  await elsewhere.context().close();
  noErrors(page);
}
