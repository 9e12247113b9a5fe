// The variables an expression over an entity's records may read, for the editor's completion.
import type { Var } from '../editor/expr';
import { SYSTEM_FIELDS, fieldLabel, type Entity, type Field } from './schema';

function varOf(f: Field, lang: string): Var {
  const v: Var = { name: f.name!, type: f.type === 'list' ? `list of ${f.item?.type || 'any'}` : f.type, detail: fieldLabel(f, lang) };
  if (f.type === 'money') v.children = [{ name: 'amount', type: 'decimal' }, { name: 'currency', type: 'string' }];
  if (f.type === 'object') v.children = (f.fields || []).map((x) => varOf(x, lang));
  return v;
}

export function varsOf(e: Entity | undefined, lang: string): Var[] {
  if (!e) return [];
  return [...e.fields.map((f) => varOf(f, lang)), ...SYSTEM_FIELDS.map((f) => varOf(f, lang)), { name: 'now', type: 'datetime', detail: 'evaluation time' }];
}

/** Reads "line 1, column 15: msg" (rule sets) or "1:15: msg" (schemas) into a positioned problem. */
export function positioned(message: string): { line: number; column: number; message: string } {
  let m = message.match(/^line (\d+), column (\d+): ([\s\S]*)$/);
  if (m) return { line: +m[1], column: +m[2], message: m[3] };
  m = message.match(/^(\d+):(\d+): ([\s\S]*)$/);
  if (m) return { line: +m[1], column: +m[2], message: m[3] };
  return { line: 1, column: 1, message };
}
