// What the dashboards show to whom: the agent (own records, the north team) sees only the figures of
// the records they own and no process figures; a user whose role hides the order amount is told, on the
// customer dashboards, which field the report needs, while the other dashboards work. The figures are
// those of analytics.mjs's seed.
import { params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';
import { kpi, download, drawn } from './analytics.mjs';

export default async function (browser) {
  const { seed } = params;

  const page = await newPage(browser);
  await signIn(page, seed.agent.email, seed.agent.password);
  const nav = await text(page, 'nav.sidebar');
  expect(nav.includes('Customers (RFM)') && nav.includes('Service') && !nav.includes('Process figures'), `agent navigation: ${nav}`);

  // Customers: only the agent's orders (Alpha 1000 + 3000, Beta 500), with names (the agent owns both).
  await open(page, '/analytics/customers?from=2024-01-01&to=2024-12-31');
  await kpi(page, 'customers', '2');
  await kpi(page, 'orders', '3');
  await kpi(page, 'revenue', '4,500');
  const top = await text(page, '[data-testid=table-customers]');
  expect(top.includes('Alpha Trading') && top.includes('Beta Foods') && !top.includes('Gamma'), `agent's customers: ${top}`);
  expect(!(await page.getByRole('button', { name: 'Recompute segments for this period' }).count()), 'the agent may not recompute segments');
  const csv = await download(page, 'rfm-grid');
  expect(csv.lines.length === 3 && !csv.body.includes('Gamma'), `agent's RFM CSV: ${csv.body}`);
  await drawn(page, 'rfm-grid');
  await checkA11y(page, 'customers (agent)');

  await open(page, '/analytics/value?from=2024-01-01&to=2024-12-31');
  await kpi(page, 'top-share', '88.9%');
  await open(page, '/analytics/service');
  await kpi(page, 'complaints', '2');
  await kpi(page, 'csat', '3.5');
  await open(page, '/analytics/loyalty');
  await kpi(page, 'total', '2');
  await open(page, '/analytics/sales');
  await kpi(page, 'records', '3');
  await open(page, '/analytics/processes');
  await page.locator('main .problem', { hasText: 'Not allowed.' }).waitFor();
  noErrors(page);
  await page.context().close();

  // The amount is hidden from this role: the customer reports are refused, naming it; loyalty works.
  const blind = await newPage(browser);
  await signIn(blind, seed.blind.email, seed.blind.password);
  await open(blind, '/analytics/customers?from=2024-01-01&to=2024-12-31');
  const refusal = blind.locator('[data-testid="card-rfm-grid"] .problem[data-status="403"]');
  await refusal.waitFor();
  const why = await refusal.textContent();
  expect(why.includes('Not allowed.') && why.includes('amount') && why.includes('order'), `refusal: ${why}`);
  expect(!(await blind.locator('[data-testid="card-rfm-grid"] a[download]').count()), 'a refused report offers no export');
  expect(!(await blind.locator('[data-testid=kpis]').count()), 'a refused report shows no figures');
  await checkA11y(blind, 'refused customers');
  await open(blind, '/analytics/value');
  await blind.locator('[data-testid="card-pareto"] .problem[data-status="403"]', { hasText: 'amount' }).waitFor();
  await blind.locator('[data-testid="card-clv"] .problem[data-status="403"]', { hasText: 'amount' }).waitFor();
  await open(blind, '/analytics/loyalty');
  await blind.waitForFunction(() => Number(document.querySelector('[data-kpi="total"] dd')?.textContent) >= 4);
  await drawn(blind, 'ladder');
  // The console's "Failed to load resource" of the refusals is expected; nothing else may be logged.
  noErrors(blind);
  await blind.context().close();
}
