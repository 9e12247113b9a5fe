// Segment runs on a schedule, as an administrator on the customers dashboard. Without `stop`: no
// schedule is shown, a wrong cron expression is refused at its field, then a right one is saved with a
// 90-day window and shown as the current schedule (the Go test then finds the Temporal schedule). With
// `stop`: the page, opened afresh, shows the saved schedule and fills the form with it; the schedule is
// stopped and shown as gone (the Go test finds it gone).
import { params, newPage, signIn, open, checkA11y, expect, noErrors } from '../lib.mjs';

export default async function (browser) {
  const { admin, stop } = params;
  const page = await newPage(browser);
  await signIn(page, admin.email, admin.password);
  await open(page, '/analytics/customers');
  const form = page.locator('[data-testid=segment-schedule]');
  const current = form.locator('[data-testid=schedule-current]');
  const saved = 'Segments are recomputed by the cron expression 0 3 * * *, each time over the last 90 days.';
  if (stop) {
    await current.locator('p', { hasText: saved }).waitFor();
    const text = await current.innerText();
    expect(text.includes('Current schedule:') && text.includes('Next run:'), `the current schedule: ${text}`);
    expect((await page.inputValue('#seg-how')) === 'cron' && (await page.inputValue('#seg-cron')) === '0 3 * * *' && (await page.inputValue('#seg-window')) === '90',
      'the form is not filled with the current schedule');
    await form.getByRole('button', { name: 'Stop schedule' }).click();
    await form.locator('[data-testid=schedule-done]', { hasText: 'Segments are no longer recomputed on a schedule.' }).waitFor();
    await current.locator('p', { hasText: 'Segments are not recomputed on a schedule.' }).waitFor();
  } else {
    await current.locator('p', { hasText: 'Segments are not recomputed on a schedule.' }).waitFor();
    await page.locator('#seg-how').selectOption('cron');
    await page.fill('#seg-cron', 'every tuesday');
    await page.fill('#seg-window', '90');
    await form.getByRole('button', { name: 'Save schedule' }).click();
    await page.locator('#seg-cron-error').waitFor();
    expect((await page.getAttribute('#seg-cron', 'aria-invalid')) === 'true', 'the cron field is not marked invalid');
    expect(!(await form.locator('[data-testid=schedule-done]').count()), 'a refused schedule reports success');
    await checkA11y(page, 'segment schedule refused');
    await page.fill('#seg-cron', '0 3 * * *');
    await form.getByRole('button', { name: 'Save schedule' }).click();
    await form.locator('[data-testid=schedule-done]', { hasText: 'by the cron expression 0 3 * * *, each time over the last 90 days' }).waitFor();
    expect(!(await page.locator('#seg-cron-error').count()), 'the cron error stays after saving');
    await current.locator('p', { hasText: saved }).waitFor();
    await checkA11y(page, 'segment schedule saved');
  }
  noErrors(page);
  await page.context().close();
}
