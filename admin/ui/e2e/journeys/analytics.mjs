// The analytics dashboards as an administrator, on the records analytics_e2e_test.go seeds. On each
// dashboard the user changes a filter and sees the figures change to the hand-computed ones, opens the
// figures table, and exports the chart's CSV (a real download through the browser); every dashboard
// passes axe-core, two of them in Russian too.
//
// The figures, by hand (2024 orders, EUR):
//   Alpha 1000 + 3000 (north), Beta 500 (north), Gamma 2000 + 2000 + 4000, Delta 1500, Epsilon 250
//   → 5 customers, 8 orders, 14,250; north: 2 customers, 3 orders, 4,500.
//   RFM (5 customers, score = 1 + ⌊5 × smaller ÷ 5⌋): last orders Epsilon 01-20 < Beta 06-01 < Delta 09-15
//   < Alpha 11-20 < Gamma 12-01 → R 1..5; orders 1,1,1,2,3 → F Beta/Delta/Epsilon 1, Alpha 4, Gamma 5.
//   Grid: R5 F5 Gamma, R4 F4 Alpha, R3 F1 Delta, R2 F1 Beta, R1 F1 Epsilon. The shipped decision table:
//   Gamma (5,5,5) and Alpha (4,4,4) champions, Delta (3,1,3) needs attention, Beta (2,1,2) hibernating,
//   Epsilon (1,1,1) lost.
//   Segment moves: the run gives each customer its first segment, a move from none: → champions 2, →
//   needs attention, → hibernating, → lost 1 each, 5 in all.
//   Pareto: top ⌈20% × 5⌉ = 1 customer, Gamma 8000 ÷ 14250 = 56.1%; north: Alpha 4000 ÷ 4500 = 88.9%.
//   CLV = revenue ÷ years × lifetime (2024 has 366 days, a year 365): lifetime 3 → 11967.21 + 1495.90 +
//   23934.43 + 4487.70 + 747.95 = 42633.19 ÷ 5 = 8,526.64; lifetime 1 → 3989.07 + 498.63 + 7978.14 +
//   1495.90 + 249.32 = 14211.06 ÷ 5 = 2,842.21.
//   Loyalty, north contacts: Kira prospect → customer, Kostya customer → client: 2 records, 4 moves
//   (two creations, two changes).
//   Funnel, north leads: 3 created, new 3 → contacted 2 → qualified 1 → converted 1; won 1, lost 1: 50%.
//   By source: Web form 2, Call 1. Deals owned by the agent: 1, won.
//   Service, north: 2 complaints; acknowledged on time 1 of 2 (50%), resolved on time 1 of 2 (50%), mean
//   hours to acknowledge (0.5 + 2) ÷ 2 = 1.25, to resolve (6 + 10) ÷ 2 = 8, CSAT (5 + 2) ÷ 2 = 3.5,
//   reopened 1 of 2 resolved (50%).
//   Process an-review: Wait 1, 2, 3 s and an incident (v1), 4 s (v2): all versions 5 runs, mean 2.5 s,
//   incident rate 20%; version 1: 4 runs, mean 2 s, 25%. One instance, of version 2.
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { base, params, newPage, signIn, open, checkA11y, expect, text, noErrors } from '../lib.mjs';

/** With RAPPORT_SCREENSHOTS set (make screenshots), saves a screenshot of the whole page there. */
export async function shot(page, name) {
  const dir = process.env.RAPPORT_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Waits until the headline figure `key` reads exactly `want`. */
export async function kpi(page, key, want) {
  const sel = `[data-kpi="${key}"] dd`;
  try {
    // Russian groups digits and separates the percent sign with no-break spaces.
    await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent.trim().replace(/\s/g, ' ') === w, [sel, want], { timeout: 20000 });
  } catch {
    throw new Error(`figure ${key}: ${JSON.stringify(await page.locator(sel).textContent().catch(() => null))}, want ${JSON.stringify(want)}`);
  }
}

/** The current text of a headline figure. */
export async function kpiText(page, key) {
  return (await page.locator(`[data-kpi="${key}"] dd`).textContent())?.trim() || '';
}

/** Applies the filter form. */
export async function apply(page) {
  await page.locator('[data-testid=filters] button[type=submit]').click();
}

/** The rows of a figures table (opening its details), each as the texts of its cells. */
export async function rows(page, card) {
  const details = page.locator(`[data-testid="card-${card}"] details`);
  if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
  return page.locator(`[data-testid="card-${card}"] table tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.trim())),
  );
}

/** The row of a figures table whose first cell is `first`. */
export async function row(page, card, first) {
  const r = (await rows(page, card)).find((x) => x[0] === first);
  if (!r) throw new Error(`table ${card} has no row ${first}: ${JSON.stringify(await rows(page, card))}`);
  return r;
}

/** Clicks a card's CSV link and returns the downloaded file's name and lines. */
export async function download(page, card) {
  const link = page.locator(`[data-testid="card-${card}"] a[download]`);
  const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const body = readFileSync(await dl.path(), 'utf8');
  return { name: dl.suggestedFilename(), lines: body.trim().split('\n'), body };
}

/** The chart of a card has drawn (an SVG with shapes) and is named for assistive technology. */
export async function drawn(page, card) {
  const chart = page.locator(`[data-testid="card-${card}"] [data-testid=chart]`);
  // A shape with an area (the first paths may be axis lines, which have no width or no height).
  const sel = `[data-testid="card-${card}"] [data-testid=chart] svg path`;
  try {
    await page.waitForFunction((s) => [...document.querySelectorAll(s)].some((p) => {
      const b = p.getBoundingClientRect();
      return b.width > 1 && b.height > 1;
    }), sel, { timeout: 20000 });
  } catch {
    throw new Error(`chart ${card} drew no shape`);
  }
  const label = await chart.getAttribute('aria-label');
  expect((await chart.getAttribute('role')) === 'img' && label && label.length > 20, `chart ${card}: role/label ${label}`);
  return label;
}

/** Chooses an option of a reference combobox (team or user) by its text. */
export async function pick(page, input, query, option) {
  await page.click(input);
  await page.fill(input, query);
  await page.getByRole('option', { name: option }).first().click();
}

export default async function (browser) {
  const { admin, seed } = params;
  const page = await newPage(browser);
  await signIn(page, admin.email, admin.password);

  // The navigation lists the dashboards.
  const nav = await text(page, 'nav.sidebar');
  for (const name of ['Analytics', 'Customers (RFM)', 'Pareto and CLV', 'Loyalty ladder', 'Sales funnel', 'Service', 'Process figures']) {
    expect(nav.includes(name), `navigation lacks ${name}: ${nav}`);
  }

  // Customers (RFM): the 2024 period, then the north team.
  await page.locator('nav.sidebar a', { hasText: 'Customers (RFM)' }).click();
  await page.waitForSelector('main h1');
  await page.waitForFunction(() => !document.querySelector('main .loading'));
  expect((await text(page, 'main h1')) === 'Customers: RFM and segments', 'customers heading');
  await page.fill('#an-from', '2024-01-01');
  await page.fill('#an-to', '2024-12-31');
  await apply(page);
  await kpi(page, 'customers', '5');
  await kpi(page, 'orders', '8');
  await kpi(page, 'revenue', '14,250');
  expect((await text(page, '[data-testid=period]')).includes('1 Jan 2024 – 31 Dec 2024 (366 days)'), 'the period note');
  expect(page.url().includes('from=2024-01-01') && page.url().includes('to=2024-12-31'), `filters are not in the address: ${page.url()}`);
  const grid = await drawn(page, 'rfm-grid');
  expect(grid.includes('R 5 F 5: 1') && grid.includes('R 1 F 1: 1'), `RFM grid label: ${grid}`);
  const cells = Object.fromEntries((await rows(page, 'rfm-grid')).map((r) => [r[0], r.slice(1).join(' ')]));
  expect(cells['R 5'] === '0 0 0 0 1' && cells['R 4'] === '0 0 0 1 0' && cells['R 3'] === '1 0 0 0 0' && cells['R 1'] === '1 0 0 0 0',
    `RFM grid table: ${JSON.stringify(cells)}`);
  await checkA11y(page, 'customers');

  // Segments: recomputed over the period in the browser, then counted.
  await page.getByRole('button', { name: 'Recompute segments for this period' }).click();
  await page.locator('[data-testid=segment-run] .notice', { hasText: 'Segments recomputed' }).waitFor({ timeout: 120000 });
  await page.waitForFunction(() => document.querySelector('[data-testid="card-segments"] table')?.textContent.includes('champions'));
  expect((await row(page, 'segments', 'champions'))[1] === '2', 'two champions');
  expect((await row(page, 'segments', 'lost'))[1] === '1', 'one lost customer');
  await drawn(page, 'segments');
  const top = await text(page, '[data-testid=table-customers]');
  expect(top.indexOf('Gamma Steel') >= 0 && top.indexOf('Gamma Steel') < top.indexOf('Alpha Trading'), `largest customers: ${top}`);

  // The run's moves: every customer got its first segment (from none), in this month.
  await page.waitForFunction(() => document.querySelector('[data-testid=moves-total]')?.textContent.trim() === '5 moves');
  const moved = Object.fromEntries((await rows(page, 'segment-moves')).map((r) => [r[2], [r[1], r[3]]]));
  expect(JSON.stringify(moved) === JSON.stringify({ champions: ['(no segment)', '2'], hibernating: ['(no segment)', '1'], lost: ['(no segment)', '1'], 'needs attention': ['(no segment)', '1'] }),
    `segment moves table: ${JSON.stringify(moved)}`);
  const sankeyMoves = await drawn(page, 'segment-moves');
  expect(sankeyMoves.includes('(no segment) → champions: 2') && sankeyMoves.includes('(no segment) → lost: 1'), `segment moves label: ${sankeyMoves}`);
  const drawnSegments = await page.locator('[data-testid="card-segment-moves"] svg text').allTextContents();
  expect(['(no segment): 5', 'champions: 2', 'lost: 1'].every((l) => drawnSegments.includes(l)), `the Sankey's segments: ${JSON.stringify(drawnSegments)}`);
  let csv = await download(page, 'segment-moves');
  expect(csv.name === 'segment-moves.csv' && csv.lines.length === 6 && csv.lines[0] === 'record,at,from,to,rule,by,via' &&
    csv.lines.slice(1).every((l) => l.includes(',,') && l.includes('rfm-segments-company')), `segment moves CSV: ${csv.body}`);
  await page.locator('#an-moves-days').selectOption('30');
  await page.waitForFunction(() => document.querySelector('[data-testid=moves-total]')?.textContent.trim() === '5 moves');
  expect(new URL(await page.locator('[data-testid="card-segment-moves"] a[download]').getAttribute('href'), base).searchParams.get('from') !== null, 'the moves export follows the days');
  await shot(page, 'en-analytics-customers');

  csv = await download(page, 'rfm-grid');
  expect(csv.name === 'rfm.csv' && csv.lines.length === 6 && csv.lines[0].startsWith('customer,name,segment') && csv.body.includes('Epsilon Retail'),
    `RFM CSV ${csv.name}: ${csv.body}`);

  await pick(page, '#an-team', 'Nor', 'North');
  await apply(page);
  await kpi(page, 'customers', '2');
  await kpi(page, 'revenue', '4,500');
  await kpi(page, 'orders', '3');
  csv = await download(page, 'segments');
  expect(csv.lines.length === 3 && csv.body.includes('Alpha Trading') && !csv.body.includes('Gamma'), `north RFM CSV: ${csv.body}`);

  // Pareto and CLV: the filters come along; clearing the team and changing the lifetime change the figures.
  await page.locator('nav.dashboards a', { hasText: 'Pareto and CLV' }).click();
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent.startsWith('Customer value'));
  await kpi(page, 'top-share', '88.9%');
  await kpi(page, 'customers', '2');
  await page.getByRole('button', { name: 'Clear North' }).click();
  await apply(page);
  await kpi(page, 'top-share', '56.1%');
  await kpi(page, 'top-customers', '1');
  await kpi(page, 'clv', '8,526.64');
  const curve = await drawn(page, 'pareto');
  expect(curve.includes('56.1%'), `Pareto label: ${curve}`);
  expect((await rows(page, 'pareto')).length === 20, 'the curve has 20 points');
  await page.fill('#an-lifetime', '1');
  await apply(page);
  await kpi(page, 'clv', '2,842.21');
  await drawn(page, 'clv');
  csv = await download(page, 'pareto');
  expect(csv.name === 'pareto.csv' && csv.lines.length === 21 && csv.lines[1] === '0.05,1,0.5614', `Pareto CSV: ${csv.body}`);
  csv = await download(page, 'clv');
  expect(csv.name === 'clv.csv' && csv.lines.length === 6 && csv.body.includes('7978.14'), `CLV CSV (lifetime 1): ${csv.body}`);
  await checkA11y(page, 'value');
  await shot(page, 'en-analytics-value');

  // Loyalty ladder: the last 12 months, then the north team.
  await page.locator('nav.dashboards a', { hasText: 'Loyalty ladder' }).click();
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Loyalty ladder');
  await page.locator('[data-testid=filters] select').first().selectOption('365');
  await apply(page);
  await page.waitForFunction(() => Number(document.querySelector('[data-kpi="total"] dd')?.textContent) >= 4);
  const everyone = await kpiText(page, 'total');
  await pick(page, '#an-team', 'Nor', 'North');
  await apply(page);
  await kpi(page, 'total', '2');
  await kpi(page, 'moves', '4');
  expect(everyone !== '2', `the team filter did not change the ladder (${everyone})`);
  expect((await row(page, 'ladder', 'Customer'))[1] === '1' && (await row(page, 'ladder', 'Client'))[1] === '1' && (await row(page, 'ladder', 'Prospect'))[1] === '0',
    'ladder table');
  await drawn(page, 'ladder');
  const sankey = await drawn(page, 'transitions');
  expect(sankey.includes('Prospect → Customer: 1') && sankey.includes('(new record) → Prospect: 1'), `Sankey label: ${sankey}`);
  const drawnStages = await page.locator('[data-testid="card-transitions"] svg text').allTextContents();
  expect(['(new record): 2', 'Prospect: 1', 'Customer: 1', 'Client: 1'].every((l) => drawnStages.includes(l)), `the Sankey's stages: ${JSON.stringify(drawnStages)}`);
  // The figures open from the keyboard.
  await page.locator('[data-testid="card-transitions"] summary').focus();
  await page.keyboard.press('Enter');
  expect(await page.locator('[data-testid="card-transitions"] details').evaluate((d) => d.open), 'Enter opens the figures of the moves');
  csv = await download(page, 'transitions');
  expect(csv.name === 'loyalty.csv' && csv.lines.length === 1 + 6 + 4 && csv.lines[2].startsWith('stage,,,customer,1'), `loyalty CSV: ${csv.body}`);
  await checkA11y(page, 'loyalty');
  await shot(page, 'en-analytics-loyalty');

  // Sales funnel: north leads, grouped by source; then the agent's deals.
  await page.locator('nav.dashboards a', { hasText: 'Sales funnel' }).click();
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Sales funnel');
  await kpi(page, 'records', '3');
  await kpi(page, 'win-rate', '50%');
  const reached = Object.fromEntries((await rows(page, 'funnel')).map((r) => [r[0], r[1]]));
  expect(reached.New === '3' && reached.Contacted === '2' && reached.Qualified === '1' && reached.Converted === '1', `funnel: ${JSON.stringify(reached)}`);
  await drawn(page, 'funnel');
  await page.locator('[data-testid=filters] label', { hasText: 'Group by' }).locator('select').selectOption('source');
  await apply(page);
  await page.locator('[data-testid="card-funnel-groups"] [data-testid=chart]').waitFor();
  expect((await row(page, 'funnel-groups', 'Web form'))[1] === '2' && (await row(page, 'funnel-groups', 'Call'))[1] === '1', 'funnel by source');
  csv = await download(page, 'funnel-groups');
  expect(csv.name === 'funnel.csv' && csv.lines.length === 1 + 4 * 3 && csv.lines[1].startsWith('(total),new,3'), `funnel CSV: ${csv.body}`);
  await checkA11y(page, 'sales');
  await shot(page, 'en-analytics-sales');
  await page.getByRole('button', { name: 'Clear North' }).click();
  await page.locator('[data-testid=filters] label', { hasText: 'Records' }).locator('select').selectOption('deal');
  await pick(page, '#an-owner', 'an.agent', /an\.agent/);
  await apply(page);
  await kpi(page, 'records', '1');
  await kpi(page, 'won', '1');
  await kpi(page, 'win-rate', '100%');

  // Service: the north team's complaints, by address.
  await open(page, `/analytics/service?team=${seed.north}`);
  await kpi(page, 'complaints', '2');
  await kpi(page, 'ack', '50%');
  await kpi(page, 'resolve', '50%');
  await kpi(page, 'ack-hours', '1.25 h');
  await kpi(page, 'resolve-hours', '8 h');
  await kpi(page, 'csat', '3.5');
  await kpi(page, 'reopen', '50%');
  for (const card of ['sla', 'csat', 'csat-scores', 'sla-groups']) await drawn(page, card);
  expect((await rows(page, 'csat-scores')).map((r) => r[1]).join(' ') === '0 1 0 0 1', 'CSAT distribution');
  csv = await download(page, 'sla');
  expect(csv.name === 'service.csv' && csv.lines[1].startsWith('(total),,,2,1,1,0,0.5'), `service CSV: ${csv.body}`);
  await checkA11y(page, 'service');
  await shot(page, 'en-analytics-service');
  await page.getByRole('button', { name: 'Clear North' }).click();
  await apply(page);
  await page.waitForFunction(() => Number(document.querySelector('[data-kpi="complaints"] dd')?.textContent) >= 4);

  // Process figures: all versions, then version 1.
  await page.locator('nav.sidebar a', { hasText: 'Process figures' }).click();
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Process figures');
  await page.locator('#an-process').selectOption(seed.process);
  await page.locator('#an-version').selectOption('');
  await apply(page);
  await kpi(page, 'instances', '1');
  await page.locator('[data-testid="card-durations"] details summary').waitFor();
  let wait = await row(page, 'durations', 'Wait for the customer Wait');
  expect(wait[1] === '5' && wait[4] === '20%' && wait[5] === '2.5 s', `Wait, all versions: ${wait}`);
  await drawn(page, 'durations');
  await drawn(page, 'incidents');
  expect(JSON.stringify(await row(page, 'incidents', 'Wait for the customer')) === JSON.stringify(['Wait for the customer', '5', '1', '20%']), 'incident table');
  await page.locator('#an-version').selectOption('1');
  await apply(page);
  await kpi(page, 'instances', '0');
  wait = await row(page, 'durations', 'Wait for the customer Wait');
  expect(wait[1] === '4' && wait[4] === '25%' && wait[5] === '2 s', `Wait, version 1: ${wait}`);
  csv = await download(page, 'durations');
  expect(csv.name === 'process-elements.csv' && csv.lines.length === 3 && csv.lines[2].startsWith('Wait,4,3,1,0.25,2000'), `process CSV: ${csv.body}`);
  await checkA11y(page, 'processes');
  await shot(page, 'en-analytics-processes');

  // Russian: every dashboard in Russian words and number formats, with its chart drawn and named in
  // Russian, and axe-core on each.
  await page.locator('header select').selectOption('ru');
  const cyrillic = /[а-яё]/i;
  for (const [name, addr, key, want, card] of [
    ['customers', '/analytics/customers?from=2024-01-01&to=2024-12-31', 'revenue', '14 250', 'rfm-grid'],
    ['value', '/analytics/value?from=2024-01-01&to=2024-12-31', 'top-share', '56,1 %', 'pareto'],
    ['loyalty', `/analytics/loyalty?team=${seed.north}`, 'total', '2', 'transitions'],
    ['sales', `/analytics/sales?team=${seed.north}`, 'win-rate', '50 %', 'funnel'],
    ['service', `/analytics/service?team=${seed.north}`, 'ack-hours', '1,25 ч', 'sla'],
    ['processes', `/analytics/processes?key=${seed.process}`, 'instances', '1', 'durations'],
  ]) {
    await open(page, addr);
    await kpi(page, key, want);
    const h1 = await text(page, 'main h1');
    expect(cyrillic.test(h1), `${name}: Russian heading: ${h1}`);
    const label = await drawn(page, card);
    expect(cyrillic.test(label), `${name}: Russian chart name: ${label}`);
    await checkA11y(page, `${name} (ru)`);
    await shot(page, `ru-analytics-${name}`);
  }
  expect((await text(page, 'nav.sidebar')).includes('Аналитика'), 'Russian navigation');
  noErrors(page);
  await page.context().close();
}
