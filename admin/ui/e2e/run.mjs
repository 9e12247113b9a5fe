// Runs one browser journey against a running Rapport: node e2e/run.mjs <journey>, with RAPPORT_BASE_URL
// and RAPPORT_E2E_PARAMS (JSON) set by e2e_test.go. On failure it saves a screenshot of every open page
// and exits non-zero with the reason; on success it prints "ok".
import { launch, shot } from './lib.mjs';

const name = process.argv[2];
const journeys = {
  agent: () => import('./journeys/agent.mjs'),
  analyst: () => import('./journeys/analyst.mjs'),
  admin: () => import('./journeys/admin.mjs'),
  pages: () => import('./journeys/pages.mjs'),
  designer: () => import('./journeys/designer.mjs'),
  monitor: () => import('./journeys/monitor.mjs'),
  analytics: () => import('./journeys/analytics.mjs'),
  'analytics-scopes': () => import('./journeys/analytics-scopes.mjs'),
  'analytics-schedule': () => import('./journeys/analytics-schedule.mjs'),
};
if (!journeys[name]) {
  console.error('unknown journey ' + name);
  process.exit(2);
}
const browser = await launch();
let failed = false;
try {
  const mod = await journeys[name]();
  await mod.default(browser);
  console.log('ok');
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
  for (const ctx of browser.contexts()) {
    for (const page of ctx.pages()) {
      try {
        console.error('screenshot: ' + (await shot(page, `failure-${name}-${Date.now()}`)) + ' (at ' + page.url() + ')');
      } catch {
        // The page may be gone.
      }
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
