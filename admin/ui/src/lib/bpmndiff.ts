// What changed between two versions of a BPMN document, element by element: the process, its flow
// elements and sequence flows (sub-processes too), messages and errors. Layout (the DI section), the
// derived incoming/outgoing lists, whitespace and generated IDs of event definitions do not count, so
// moving a shape is no change and retyping a timer is a change of its event.

const BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';

/** One element of a process as the diff sees it. */
export interface Unit {
  id: string;
  name: string;
  type: string;
}

export interface Change extends Unit {
  /** What differs, e.g. "name: Call → Call back", "<zeebe:taskDefinition>". */
  details: string[];
}

export interface BpmnDiff {
  added: Unit[];
  removed: Unit[];
  changed: Change[];
}

const CONTAINERS = new Set(['process', 'subProcess', 'transaction', 'adHocSubProcess']);
const SKIP = new Set(['incoming', 'outgoing', 'laneSet', 'documentation']);

interface Entry {
  unit: Unit;
  attrs: Map<string, string>;
  parts: Map<string, string>;
}

function qname(el: Element): string {
  return el.prefix ? `${el.prefix}:${el.localName}` : el.localName;
}

/** The element's own content: attributes and children that are not units themselves, as text. */
function own(el: Element): { attrs: Map<string, string>; parts: Map<string, string> } {
  const attrs = new Map<string, string>();
  for (const a of Array.from(el.attributes)) {
    if (a.name.startsWith('xmlns')) continue;
    attrs.set(a.name, a.value);
  }
  const parts = new Map<string, string>();
  for (const c of Array.from(el.children)) {
    if (c.namespaceURI === BPMN && (SKIP.has(c.localName) || isUnit(c))) continue;
    const key = qname(c);
    parts.set(key, (parts.get(key) || '') + canonical(c));
  }
  return { attrs, parts };
}

/** A child's text without whitespace between tags and without the IDs of event definitions. */
function canonical(el: Element): string {
  const copy = el.cloneNode(true) as Element;
  const strip = (e: Element) => {
    if (e.namespaceURI === BPMN && /EventDefinition$/.test(e.localName)) e.removeAttribute('id');
    for (const c of Array.from(e.children)) strip(c);
  };
  strip(copy);
  return new XMLSerializer().serializeToString(copy).replace(/>\s+</g, '><').replace(/\s+xmlns(:\w+)?="[^"]*"/g, '').trim();
}

function isUnit(el: Element): boolean {
  if (el.namespaceURI !== BPMN || !el.getAttribute('id')) return false;
  const parent = el.parentElement;
  if (!parent || parent.namespaceURI !== BPMN) return false;
  if (CONTAINERS.has(parent.localName)) return !SKIP.has(el.localName);
  return parent.localName === 'definitions' && ['process', 'message', 'error'].includes(el.localName);
}

function units(xml: string): Map<string, Entry> {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const out = new Map<string, Entry>();
  if (doc.getElementsByTagName('parsererror').length) return out;
  const walk = (el: Element) => {
    if (isUnit(el)) {
      const id = el.getAttribute('id')!;
      const { attrs, parts } = own(el);
      out.set(id, { unit: { id, name: el.getAttribute('name') || '', type: el.localName }, attrs, parts });
    }
    for (const c of Array.from(el.children)) if (c.namespaceURI === BPMN) walk(c);
  };
  walk(doc.documentElement);
  return out;
}

/** Compares two documents; from "" (nothing published) lists everything as added. */
export function diffBpmn(from: string, to: string): BpmnDiff {
  const a = from ? units(from) : new Map<string, Entry>();
  const b = units(to);
  const diff: BpmnDiff = { added: [], removed: [], changed: [] };
  for (const [id, e] of b) if (!a.has(id)) diff.added.push(e.unit);
  for (const [id, e] of a) if (!b.has(id)) diff.removed.push(e.unit);
  for (const [id, before] of a) {
    const after = b.get(id);
    if (!after) continue;
    const details: string[] = [];
    for (const k of new Set([...before.attrs.keys(), ...after.attrs.keys()])) {
      const x = before.attrs.get(k);
      const y = after.attrs.get(k);
      if (x !== y) details.push(`${k}: ${x ?? '—'} → ${y ?? '—'}`);
    }
    for (const k of new Set([...before.parts.keys(), ...after.parts.keys()])) {
      if (before.parts.get(k) !== after.parts.get(k)) details.push(`<${k}>`);
    }
    if (details.length) diff.changed.push({ ...after.unit, details });
  }
  return diff;
}

/** The declared variables of a document's first executable process (rapport:variable), for start forms. */
export function declaredVariables(xml: string): { name: string; type: string; required: boolean; default: string }[] {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const out: { name: string; type: string; required: boolean; default: string }[] = [];
  const procs = Array.from(doc.getElementsByTagNameNS(BPMN, 'process'));
  const proc = procs.find((p) => p.getElementsByTagNameNS(BPMN, 'startEvent').length) || procs[0];
  if (!proc) return out;
  for (const v of Array.from(proc.getElementsByTagNameNS('http://rapport.dev/schema/bpmn/1.0', 'variable'))) {
    out.push({ name: v.getAttribute('name') || '', type: v.getAttribute('type') || 'any', required: v.getAttribute('required') === 'true', default: v.getAttribute('default') || '' });
  }
  return out.filter((v) => v.name);
}

/** Whether a document can be started by hand: its process has a start event with no event definition and no record trigger. */
export function startsByHand(xml: string): boolean {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  for (const proc of Array.from(doc.getElementsByTagNameNS(BPMN, 'process'))) {
    for (const s of Array.from(proc.children)) {
      if (s.namespaceURI !== BPMN || s.localName !== 'startEvent') continue;
      const defs = Array.from(s.children).some((c) => /EventDefinition$/.test(c.localName));
      const trigger = s.getElementsByTagNameNS('http://rapport.dev/schema/bpmn/1.0', 'recordTrigger').length > 0;
      if (!defs && !trigger) return true;
    }
  }
  return false;
}
