// The designer's canvas: bpmn-js's modeler with its properties panel and Rapport's groups. This module and
// everything it imports load only with the designer page.
/* eslint-disable @typescript-eslint/no-explicit-any */
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import { moddleExtensions, translateModule, loadFont, labelCanvas, Decorations, focusElement } from './canvas';
import { rapportPanelModule, type PanelData } from './panel';

export type { PanelData } from './panel';

/** A problem or warning the validator reported for an element. */
export interface ElementProblem {
  elementId: string;
  reason: string;
}

export interface Designer {
  /** Shows a document; throws with the reason when bpmn-js cannot read it. Returns bpmn-js's import warnings. */
  open(xml: string): Promise<string[]>;
  /** The current document, formatted. */
  xml(): Promise<string>;
  /** Marks the elements with problems (red) and warnings (amber), a badge with their count on each. */
  problems(problems: ElementProblem[], warnings: ElementProblem[]): void;
  /** Marks elements (a diff, a test path); empty clears. */
  mark(ids: string[], cls: string): void;
  /** Scrolls to an element and selects it, which opens its properties. */
  focus(id: string): boolean;
  /** The process ID and name of the document on the canvas. */
  process(): { id: string; name: string };
  /** Re-renders the properties panel (after its data changed). */
  refresh(): void;
  /** Tells the canvas its size changed (after it was hidden). */
  resized(): void;
  destroy(): void;
  /** The bpmn-js instance (tests and advanced use). */
  readonly modeler: any;
}

/** Creates the modeler in canvas with the panel in panel; onChange runs after every edit. */
export function createDesigner(o: { canvas: HTMLElement; panel: HTMLElement; data: PanelData; label: string; onChange: () => void }): Designer {
  loadFont();
  const modeler: any = new Modeler({
    container: o.canvas,
    propertiesPanel: { parent: o.panel },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, rapportPanelModule(o.data), translateModule],
    moddleExtensions,
  });
  const problems = new Decorations(modeler, 'rp-problems');
  const marks = new Map<string, Decorations>();
  modeler.on('commandStack.changed', () => o.onChange());
  return {
    modeler,
    async open(xml) {
      const r = await modeler.importXML(xml);
      labelCanvas(o.canvas, o.label);
      try {
        modeler.get('canvas').zoom('fit-viewport', 'auto');
      } catch {
        // An empty diagram has nothing to fit.
      }
      return (r.warnings || []).map((w: any) => w.message || String(w));
    },
    async xml() {
      const { xml } = await modeler.saveXML({ format: true });
      return xml;
    },
    problems(ps, ws) {
      problems.clear();
      const count = new Map<string, { e: string[]; w: string[] }>();
      for (const [list, kind] of [[ps, 'e'], [ws, 'w']] as const) {
        for (const p of list) {
          if (!p.elementId) continue;
          const c = count.get(p.elementId) || { e: [], w: [] };
          c[kind].push(p.reason);
          count.set(p.elementId, c);
        }
      }
      for (const [id, c] of count) {
        problems.mark(id, c.e.length ? 'rp-error' : 'rp-warning');
        problems.badge(id, String(c.e.length || c.w.length), c.e.length ? 'error' : 'warning', [...c.e, ...c.w].join('\n'));
      }
    },
    mark(ids, cls) {
      let d = marks.get(cls);
      if (!d) marks.set(cls, (d = new Decorations(modeler, 'rp-mark-' + cls)));
      d.clear();
      for (const id of ids) d.mark(id, cls);
    },
    focus(id) {
      return focusElement(modeler, id);
    },
    process() {
      const root = modeler.get('canvas').getRootElement()?.businessObject;
      const proc = root?.$instanceOf?.('bpmn:Participant') ? root.processRef : root?.$instanceOf?.('bpmn:Collaboration')
        ? (root.participants || []).map((p: any) => p.processRef).find((p: any) => p?.flowElements?.length) || root.participants?.[0]?.processRef
        : root;
      return { id: proc?.id || '', name: proc?.name || '' };
    },
    refresh() {
      modeler.get('eventBus').fire('propertiesPanel.providersChanged');
    },
    resized() {
      modeler.get('canvas').resized();
    },
    destroy() {
      modeler.destroy();
    },
  };
}

/** A new process: one start event, ready to draw on. */
export function blankDiagram(key: string, name: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_${esc(key)}" targetNamespace="http://rapport.dev/bpmn">
  <bpmn:process id="${esc(key)}" name="${esc(name)}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="Start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="${esc(key)}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="180" y="160" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
`;
}
