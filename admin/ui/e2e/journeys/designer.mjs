// An analyst, once in English and once in Russian, imports a file drawn in Camunda Modeler on the
// processes page: the designer shows the validator's problem at its element (a marker and a badge on the
// diagram, a line in the problems list); from the list, by keyboard, the analyst jumps to the element, fixes
// its condition in the expression editor of the properties panel, and the marker goes away; a service
// task gets its task type and an entity from the generated panel, a business rule task its rule set. The draft is
// saved and published; a renamed task is then shown in the publish tab's diff (and marked on the diagram)
// before version 2 is published and started from the generated form; version 1 opens read-only and exports
// as a BPMN file, and the element templates for Camunda Modeler download as JSON. The test bench runs the draft dry on chosen variables and marks the path. Every state is
// checked with axe-core.
import { readFileSync } from 'node:fs';
import { params, newPage, signIn, open, checkA11y, expect, noErrors } from '../lib.mjs';

/** Clicks a toolbar button that saves a file, and returns the file's name and text. */
async function downloaded(page, button) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.locator('.toolbar button', { hasText: button }).click()]);
  return { name: file.suggestedFilename(), body: readFileSync(await file.path(), 'utf8') };
}

const words = {
  en: { create: 'Create', save: 'Save draft', publish: 'Publish', valid: 'Valid', published: 'Published version', changed: 'changed', run: 'Run', completed: 'completed', exportXML: 'Export XML', templates: 'Element templates' },
  ru: { create: 'Создать', save: 'Сохранить черновик', publish: 'Опубликовать', valid: 'Корректно', published: 'Опубликована версия', changed: 'изменено', run: 'Запустить', completed: 'завершён', exportXML: 'Выгрузить XML', templates: 'Шаблоны элементов' },
};

/** A process as Camunda Modeler 5 saves it, with three problems: a service task without a task type, a business
 * rule task without a rule set, and a gateway whose "hot" flow has a condition that does not compile. */
function camundaFile(key) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.28.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">
  <bpmn:process id="${key}" name="Lead triage ${key}" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="score" type="int" required="true" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start" name="Lead scored"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Load" name="Load the lead"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F0b</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:businessRuleTask id="Rate" name="Rate the lead"><bpmn:incoming>F0b</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:exclusiveGateway id="Hot" name="Hot?" default="Cold"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>HotFlow</bpmn:outgoing><bpmn:outgoing>Cold</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:scriptTask id="Mark" name="Mark as hot">
      <bpmn:extensionElements><rapport:assign target="hot" expression="=true" /></bpmn:extensionElements>
      <bpmn:incoming>HotFlow</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:scriptTask>
    <bpmn:endEvent id="Done" name="Done"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Ignored" name="Ignored"><bpmn:incoming>Cold</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Load" />
    <bpmn:sequenceFlow id="F0b" sourceRef="Load" targetRef="Rate" />
    <bpmn:sequenceFlow id="F1" sourceRef="Rate" targetRef="Hot" />
    <bpmn:sequenceFlow id="HotFlow" name="hot" sourceRef="Hot" targetRef="Mark"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=score &gt;=</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Cold" name="cold" sourceRef="Hot" targetRef="Ignored" />
    <bpmn:sequenceFlow id="F3" sourceRef="Mark" targetRef="Done" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="${key}">
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Load_di" bpmnElement="Load"><dc:Bounds x="240" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Rate_di" bpmnElement="Rate"><dc:Bounds x="390" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Hot_di" bpmnElement="Hot" isMarkerVisible="true"><dc:Bounds x="545" y="95" width="50" height="50" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Mark_di" bpmnElement="Mark"><dc:Bounds x="650" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Done_di" bpmnElement="Done"><dc:Bounds x="812" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Ignored_di" bpmnElement="Ignored"><dc:Bounds x="652" y="222" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="F0_di" bpmnElement="F0"><di:waypoint x="188" y="120" /><di:waypoint x="240" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F0b_di" bpmnElement="F0b"><di:waypoint x="340" y="120" /><di:waypoint x="390" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1"><di:waypoint x="490" y="120" /><di:waypoint x="545" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="HotFlow_di" bpmnElement="HotFlow"><di:waypoint x="595" y="120" /><di:waypoint x="650" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Cold_di" bpmnElement="Cold"><di:waypoint x="570" y="145" /><di:waypoint x="570" y="240" /><di:waypoint x="652" y="240" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F3_di" bpmnElement="F3"><di:waypoint x="750" y="120" /><di:waypoint x="812" y="120" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
`;
}

/** Waits until the live check reports the diagram valid. */
async function waitValid(page, w) {
  await page.waitForFunction((v) => document.querySelector('[data-testid=check-state]')?.textContent.trim().startsWith(v), w.valid);
}

async function journey(browser, lang) {
  const { analyst } = params;
  const w = words[lang];
  const key = `e2e-triage-${lang}`;
  const page = await newPage(browser, { lang });
  await signIn(page, analyst.email, analyst.password);
  await open(page, '/processes');
  await page.waitForSelector('[data-testid=processes] tbody tr');
  await checkA11y(page, `processes (${lang})`);

  // Import the Camunda Modeler file; the designer opens it as a new process and checks it at once.
  await page.setInputFiles('#pr-import', { name: `${key}.bpmn`, mimeType: 'application/xml', buffer: Buffer.from(camundaFile(key)) });
  await page.waitForSelector('[data-testid=canvas] .djs-container');
  await page.waitForSelector('[data-testid=properties] .bio-properties-panel');
  const problem = page.locator('[data-testid=problems] li.error[data-element=HotFlow]');
  await problem.waitFor();
  await page.waitForSelector('[data-testid=problems] li.error[data-element=Load]');
  await page.waitForSelector('[data-testid=problems] li.error[data-element=Rate]');
  const reason = await problem.textContent();
  expect(reason.includes('score >='), `the problem does not name the condition: ${reason}`);
  // On the diagram: the flow is marked and carries a badge.
  await page.waitForSelector('[data-testid=canvas] .djs-element.rp-error[data-element-id=HotFlow]', { state: 'attached' });
  expect(await page.locator('[data-testid=canvas] .rp-badge.error').count() >= 1, 'no problem badge on the diagram');
  expect(await page.locator('.toolbar button.primary').isDisabled(), 'a diagram with a problem can be saved');
  await checkA11y(page, `designer with a problem (${lang})`);

  // By keyboard: focus the problem's element link and press Enter; the flow is selected and its
  // condition opens in the panel's expression editor.
  await problem.locator('button').focus();
  await page.keyboard.press('Enter');
  const cond = page.locator('[data-expr="rapport-condition-expr"] .cm-content');
  await cond.waitFor();
  await page.locator('[data-expr="rapport-condition-expr"] .cm-lintRange-error, [data-testid=properties] .bio-properties-panel-error').first().waitFor();
  await cond.fill('score >= 50');
  await page.waitForSelector('[data-testid=problems] li.error[data-element=HotFlow]', { state: 'detached' });

  // The service task's type from the generated panel, then the header its type declares (a picker of entities).
  await page.locator('[data-testid=problems] li.error[data-element=Load] button').click();
  await page.selectOption('#bio-properties-panel-rapport-task-type', 'record.get');
  await page.waitForSelector('#bio-properties-panel-rapport-header-entity option[value=lead]', { state: 'attached' });
  await page.selectOption('#bio-properties-panel-rapport-header-entity', 'lead');
  // The catalogue also requires the record's ID.
  await page.fill('#bio-properties-panel-rapport-header-id', 'lead-1');
  await page.waitForSelector('[data-testid=problems] li.error[data-element=Load]', { state: 'detached' });
  // The business rule task's rule set from the picker fed by the API.
  await page.locator('[data-testid=problems] li.error[data-element=Rate] button').click();
  await page.waitForSelector(`#bio-properties-panel-rapport-ruleset-key option[value="${params.ruleset}"]`, { state: 'attached' });
  await page.selectOption('#bio-properties-panel-rapport-ruleset-key', params.ruleset);
  await page.fill('#bio-properties-panel-rapport-ruleset-result', 'rating');
  await waitValid(page, w);
  await page.waitForSelector('[data-testid=canvas] .rp-error', { state: 'detached' });
  await checkA11y(page, `designer, valid (${lang})`);

  const create = page.locator('.toolbar button.primary');
  await page.waitForFunction(() => !document.querySelector('.toolbar button.primary')?.disabled);
  expect((await create.textContent()).trim() === w.create, `the save button says ${await create.textContent()}`);
  await create.click();
  await page.waitForFunction((k) => location.hash.startsWith('#/processes/' + k), key);
  await page.waitForSelector('#tab-publish');
  await waitValid(page, w);

  // Publish version 1 (tabs by keyboard: arrow keys move between them).
  await page.focus('#tab-diagram');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#tab-publish[aria-selected=true]');
  await page.waitForSelector('[data-testid=diff]');
  // Let the debounced validation and the draft save settle before publishing.
  await page.waitForLoadState('networkidle');
  await page.locator('[data-testid=publish] form button[type=submit]').click();
  await page.locator('[data-testid=published]', { hasText: `${w.published} 1` }).waitFor();
  await checkA11y(page, `publish tab (${lang})`);

  // Rename the script task in the panel, save, and see the change in the diff before publishing again.
  await page.click('#tab-diagram');
  await page.locator('[data-testid=canvas] .djs-element[data-element-id=Mark]').click();
  const name = page.locator('[data-testid=properties] [data-entry-id=name] textarea, [data-testid=properties] [data-entry-id=name] input').first();
  await name.waitFor({ state: 'attached' });
  if (!(await name.isVisible())) await page.locator('[data-testid=properties] [data-group-id=group-general] .bio-properties-panel-group-header').click();
  await name.fill('Mark as hot lead');
  await page.waitForSelector('.toolbar .tag');
  await waitValid(page, w);
  await page.locator('.toolbar button.primary', { hasText: w.save }).click();
  await page.waitForFunction(() => !document.querySelector('.toolbar .tag'));
  await page.click('#tab-publish');
  const row = page.locator('[data-testid=diff] tbody tr', { hasText: 'Mark as hot lead' });
  await row.waitFor();
  expect((await row.textContent()).includes(w.changed), `the diff row does not say changed: ${await row.textContent()}`);
  await page.waitForSelector('[data-testid=canvas] .rp-changed[data-element-id=Mark]');
  await checkA11y(page, `publish tab with a diff (${lang})`);
  await page.locator('[data-testid=publish] form button[type=submit]').click();
  await page.locator('[data-testid=published]', { hasText: `${w.published} 2` }).waitFor();

  // Start an instance of version 2 by hand from the form generated from the declared variables.
  await page.click('#tab-start');
  await page.fill('#start-score', '70');
  await page.locator('[data-testid=start-form] button[type=submit]').click();
  await page.locator('[data-testid=started] a').waitFor();
  await checkA11y(page, `start an instance (${lang})`);

  // Versions: both listed; version 1 opens read-only without the panel.
  await page.click('#tab-versions');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=versions] tbody tr').length === 2);
  await checkA11y(page, `versions (${lang})`);
  await page.locator('[data-testid=versions] tbody tr').last().locator('a').first().click();
  await page.waitForFunction(() => location.hash.includes('version=1'));
  await page.waitForSelector('[data-testid=properties]', { state: 'detached' });
  // Version 1 shows the task's first name.
  await page.waitForFunction(() => document.querySelector('[data-testid=canvas] .djs-element[data-element-id=Mark]')?.textContent.trim() === 'Mark as hot');
  // Version 1 exports as a BPMN file; the element templates for Camunda Modeler download as JSON, one per task type.
  const bpmn = await downloaded(page, w.exportXML);
  expect(bpmn.name === `${key}-v1.bpmn` && bpmn.body.includes('name="Mark as hot"') && !bpmn.body.includes('Mark as hot lead'), `exported ${bpmn.name}: ${bpmn.body.slice(0, 200)}`);
  const templates = await downloaded(page, w.templates);
  const list = JSON.parse(templates.body);
  expect(templates.name === 'rapport-element-templates.json' && list.some((x) => JSON.stringify(x).includes('"record.get"')), `element templates ${templates.name}: ${templates.body.slice(0, 200)}`);

  // The test bench: a dry run with score 70 takes the hot flow and completes.
  await page.goto(page.url().replace(/\?.*$/, ''));
  await page.waitForSelector('#tab-bench');
  await page.click('#tab-bench');
  await page.fill('#bench-score', '70');
  await page.fill('#bench-responses', JSON.stringify({ Rate: { score: 80 } }));
  await page.locator('[data-testid=bench] form button[type=submit]').click();
  await page.locator('[data-testid=bench-outcome]', { hasText: w.completed }).waitFor();
  await page.locator('[data-testid=bench-steps] tbody tr', { hasText: 'Mark as hot lead' }).waitFor();
  await page.locator('[data-testid=bench-steps] tbody tr', { hasText: 'rating = {"score":80}' }).waitFor();
  await page.waitForSelector('[data-testid=canvas] .rp-path[data-element-id=HotFlow]', { state: 'attached' });
  await checkA11y(page, `test bench (${lang})`);
  noErrors(page);
  await page.context().close();
}

export default async function (browser) {
  for (const lang of ['en', 'ru']) await journey(browser, lang);
}
