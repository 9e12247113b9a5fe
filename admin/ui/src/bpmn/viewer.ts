// A read-only diagram (navigation only): a published version in the designer, the monitor's heat map and
// process card, the test bench's path. Elements can be marked, given badges, and clicked.
/* eslint-disable @typescript-eslint/no-explicit-any */
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { moddleExtensions, translateModule, loadFont, labelCanvas, Decorations, focusElement } from './canvas';

export interface Badge {
  id: string;
  text: string;
  cls: string;
  title?: string;
  position?: Record<string, number>;
}

export interface Diagram {
  open(xml: string): Promise<void>;
  /** Replaces the markers and badges of a layer (e.g. "state", "pick"). */
  decorate(layer: string, marks: { id: string; cls: string }[], badges?: Badge[]): void;
  /** Calls fn with the element ID (and its name) when a flow element is clicked. */
  onClick(fn: (id: string, name: string, type: string) => void): void;
  /** The flow elements on the diagram: ID, name and BPMN type. */
  elements(): { id: string; name: string; type: string }[];
  focus(id: string): boolean;
  resized(): void;
  destroy(): void;
  readonly viewer: any;
}

export function createDiagram(o: { container: HTMLElement; label: string }): Diagram {
  loadFont();
  const viewer: any = new NavigatedViewer({ container: o.container, additionalModules: [translateModule], moddleExtensions });
  const layers = new Map<string, Decorations>();
  const clicks: ((id: string, name: string, type: string) => void)[] = [];
  viewer.on('element.click', (e: any) => {
    const el = e.element;
    if (!el || el.type === 'label' || el.type === 'bpmn:Process' || el.type === 'bpmn:Collaboration') return;
    for (const fn of clicks) fn(el.id, el.businessObject?.name || '', el.type);
  });
  return {
    viewer,
    async open(xml) {
      await viewer.importXML(xml);
      labelCanvas(o.container, o.label);
      try {
        viewer.get('canvas').zoom('fit-viewport', 'auto');
      } catch {
        // Nothing to fit.
      }
    },
    decorate(layer, marks, badges = []) {
      let d = layers.get(layer);
      if (!d) layers.set(layer, (d = new Decorations(viewer, 'rp-' + layer)));
      d.clear();
      for (const m of marks) d.mark(m.id, m.cls);
      for (const b of badges) d.badge(b.id, b.text, b.cls, b.title, b.position);
    },
    onClick(fn) {
      clicks.push(fn);
    },
    elements() {
      return viewer.get('elementRegistry').filter((e: any) => e.type !== 'label' && e.businessObject?.$instanceOf?.('bpmn:FlowNode'))
        .map((e: any) => ({ id: e.id, name: e.businessObject?.name || '', type: e.type }));
    },
    focus(id) {
      return focusElement(viewer, id);
    },
    resized() {
      viewer.get('canvas').resized();
    },
    destroy() {
      viewer.destroy();
    },
  };
}
