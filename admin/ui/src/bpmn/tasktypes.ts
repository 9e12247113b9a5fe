// The service task types the designer offers, each describing itself (headers, inputs, result shape),
// so the properties panel and the Camunda Modeler element templates are generated from the descriptions
// instead of being written per type. The descriptions are the engine's registry (engine/tasktypes),
// served by GET /api/v1/task-types: a type added there reaches the panel without a change here.
import { get } from '../lib/api';

/** One header or input a task type reads. */
export interface Param {
  name: string;
  /** string, int, float, bool, list, object, any */
  type: string;
  required?: boolean;
  doc: string;
  /** An input mapping of the same name may give the value instead of the header. */
  input?: boolean;
  enum?: string[];
}

/** The shape of a value (engine/expression Type): kind, list element, object fields. */
export interface Shape {
  kind: string;
  elem?: Shape | null;
  fields?: Record<string, Shape | null>;
}

/** What a task type says about itself. */
export interface TaskTypeInfo {
  id: string;
  title: string;
  doc: string;
  headers?: Param[];
  inputs?: Param[];
  /** Any other input is passed on too (the fields of a record to create). */
  freeInputs?: boolean;
  /** What a task returns, read by output mappings as `result`; absent is any. */
  result?: Shape | null;
  /** Run by the interpreter for other elements (message throws); a service task may not name it. */
  internal?: boolean;
}

const KINDS = ['any', 'string', 'int', 'float', 'bool', 'time', 'duration', 'list', 'object'];

/** Normalises a shape from the API: the kind may come as its number (engine/expression Kind) or name. */
export function shape(raw: unknown): Shape | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as { kind?: unknown; elem?: unknown; fields?: Record<string, unknown> };
  const kind = typeof r.kind === 'number' ? KINDS[r.kind] || 'any' : typeof r.kind === 'string' ? r.kind : 'any';
  const out: Shape = { kind };
  if (r.elem) out.elem = shape(r.elem);
  if (r.fields) out.fields = Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, shape(v)]));
  return out;
}

const S = (kind: string): Shape => ({ kind });
const obj = (fields: Record<string, Shape>): Shape => ({ kind: 'object', fields });

/** The shape of a rule set's result by its kind (what engine/rules gives each kind). */
export function rulesetResult(kind: string): Shape | null {
  const names: Shape = { kind: 'list', elem: S('string') };
  switch (kind) {
    case 'validation': return obj({ valid: S('bool'), messages: names });
    case 'computed': return obj({ values: S('any') });
    case 'scoring': return obj({ score: S('float'), fired: names });
    case 'decision': return obj({ outcome: S('any'), matched: names });
    case 'decision_table': return obj({ output: S('any'), rows: { kind: 'list' } });
    case 'assignment': return obj({ route: S('string'), queue: S('string'), team: S('string'), assignee: S('string') });
    case 'sla': return obj({ target: S('string'), responseDue: S('string'), resolutionDue: S('string') });
  }
  return null;
}

function normalise(list: TaskTypeInfo[]): TaskTypeInfo[] {
  return list.map((x) => ({ ...x, result: shape(x.result) }));
}

/** The task types a service task may name, as the server's registry describes them. */
export async function loadTaskTypes(): Promise<TaskTypeInfo[]> {
  const c = await get<{ types: TaskTypeInfo[] | null }>('/api/v1/task-types');
  return normalise(c.types || []).filter((x) => !x.internal);
}
