// What an expression in a process may read, for the editor's completion: the declared variables (typed),
// the names the process assigns itself (form fields, mapping and script targets, result variables, loop
// variables), `record` typed by the trigger entity's fields, `now`, and at output mappings `result`
// shaped by the task's result.
import type { Var } from '../editor/expr';
import type { Entity } from '../lib/schema';
import { varsOf } from '../lib/exprvars';
import { bo, is, extension, extensions, outputs, inputs, processOf, type BO, type Element } from './model';
import type { Shape } from './tasktypes';

/** The declared variables of a process (rapport:variables). */
export function declared(process: BO): { name: string; type: string; required: boolean; default: string }[] {
  const out: { name: string; type: string; required: boolean; default: string }[] = [];
  for (const v of extension(process, 'rapport:Variables')?.get('values') || []) {
    if (v.name) out.push({ name: v.name, type: v.type || 'any', required: !!v.required, default: v.default || '' });
  }
  return out;
}

/** Every flow element of a process, sub-processes included. */
export function flowElements(container: BO): BO[] {
  const out: BO[] = [];
  for (const e of container?.flowElements || []) {
    out.push(e);
    if (is(e, 'bpmn:SubProcess')) out.push(...flowElements(e));
  }
  return out;
}

/** The entity of the process's record trigger, if it has one. */
export function triggerEntity(process: BO): string {
  for (const e of process?.flowElements || []) {
    if (is(e, 'bpmn:StartEvent')) {
      const t = extension(e, 'rapport:RecordTrigger');
      if (t?.entity) return t.entity;
    }
  }
  return '';
}

function root(path: string): string {
  return (path || '').split('.')[0];
}

/** The names a process assigns itself, in document order. */
export function assigned(process: BO): string[] {
  const names: string[] = [];
  const add = (n: string | undefined) => {
    const r = root(n || '');
    if (r && !names.includes(r)) names.push(r);
  };
  for (const e of flowElements(process)) {
    for (const f of extension(e, 'rapport:FormFields')?.get('values') || []) add(f.name);
    for (const o of outputs(e)) add(o.target);
    for (const a of extensions(e, 'rapport:Assign')) add(a.target);
    add(extension(e, 'zeebe:Script')?.resultVariable);
    add(extension(e, 'rapport:Ruleset')?.resultVariable);
    add(extension(e, 'zeebe:CalledDecision')?.resultVariable);
    const loop = extension(e.loopCharacteristics, 'zeebe:LoopCharacteristics');
    if (loop) {
      add(loop.inputElement);
      add(loop.outputCollection);
      add('loopCounter');
    }
  }
  return names;
}

/** A shape as completion children. */
export function shapeVars(s: Shape | null | undefined): Var[] | undefined {
  if (!s?.fields) return undefined;
  return Object.entries(s.fields).map(([name, f]) => ({ name, type: f?.kind || 'any', children: shapeVars(f) }));
}

export interface VarContext {
  entity?: (name: string) => Entity | undefined;
  lang: string;
  /** The result shape at an output mapping, when known. */
  result?: Shape | null;
  /** Whether the site may read `result` (output mappings). */
  withResult?: boolean;
}

/** The variables an expression at element may read. */
export function varsAt(element: Element, c: VarContext): Var[] {
  const process = processOf(element);
  if (!process) return [];
  const out: Var[] = [];
  const seen = new Set<string>();
  const push = (v: Var) => {
    if (seen.has(v.name)) return;
    seen.add(v.name);
    out.push(v);
  };
  for (const d of declared(process)) push({ name: d.name, type: d.type, detail: d.required ? 'declared, required' : 'declared' });
  const ent = triggerEntity(process);
  if (ent) {
    const e = c.entity?.(ent);
    push({ name: 'record', type: ent, detail: `the ${ent} that started the process`, children: e ? varsOf(e, c.lang).filter((v) => v.name !== 'now') : undefined });
  }
  const x = bo(element);
  // Local variables of the element itself (its input mappings, its loop).
  for (const i of inputs(x)) if (i.target) push({ name: root(i.target), type: 'any', detail: 'input of this element' });
  for (const n of assigned(process)) push({ name: n, type: 'any', detail: 'assigned by the process' });
  if (c.withResult) push({ name: 'result', type: c.result?.kind || 'any', detail: 'what the element returned', children: shapeVars(c.result) });
  push({ name: 'now', type: 'datetime', detail: 'workflow time' });
  return out;
}
