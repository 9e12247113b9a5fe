// The service task types the designer offers, each describing itself (headers, inputs, result shape),
// so the properties panel and the Camunda Modeler element templates are generated from the descriptions
// instead of being written per type. The panel asks the API (GET /api/v1/task-types) for the server's
// descriptions; a server that does not describe its types yet gets the copy below, one entry for each of
// engine/bpmn.BuiltinTaskTypes, in the same shape.
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
const entity: Param = { name: 'entity', type: 'string', required: true, input: true, doc: 'the entity of the record, e.g. lead' };
const recordId: Param = { name: 'id', type: 'string', required: true, input: true, doc: 'the ID of the record' };

/** The built-in types (engine/bpmn.BuiltinTaskTypes) described for servers that do not describe them. */
export const LOCAL_TASK_TYPES: TaskTypeInfo[] = [
  { id: 'record.create', title: 'Create a record', doc: 'Creates a record of the entity from the inputs (one input per field); the result is the stored record.', headers: [entity], freeInputs: true },
  { id: 'record.update', title: 'Update a record', doc: 'Changes the fields named by the inputs of the record with the given id; the result is the stored record.', headers: [entity, recordId], freeInputs: true },
  { id: 'record.get', title: 'Read a record', doc: 'Reads the record with the given id; the result is the record.', headers: [entity, recordId] },
  {
    id: 'record.find', title: 'Find records', doc: 'Lists the records of the entity matching a filter of the query language ($name parameters are bound to inputs); the result is {records, count, more}.',
    headers: [entity, { name: 'filter', type: 'string', input: true, doc: 'a filter of the query language, e.g. status == "open"' },
      { name: 'sort', type: 'string', input: true, doc: 'fields to sort by, e.g. -updatedAt' }, { name: 'limit', type: 'int', input: true, doc: 'at most this many records (default 100)' }],
    freeInputs: true, result: obj({ records: { kind: 'list' }, count: S('int'), more: S('bool') }),
  },
  {
    id: 'rules.evaluate', title: 'Evaluate a rule set', doc: 'Evaluates a published rule set on the record given by the inputs (the record\'s fields, or recordId alone to read the stored record).',
    headers: [{ name: 'ruleset', type: 'string', required: true, doc: 'the rule set\'s key' }, { name: 'version', type: 'int', doc: 'a published version; empty is the latest' }],
    inputs: [{ name: 'recordId', type: 'string', doc: 'the ID of the stored record to evaluate (alone)' }], freeInputs: true,
  },
  {
    id: 'task.create', title: 'Create a task for a person', doc: 'Creates a Task record (the inputs are its fields: title, kind, dueAt, assignee, related...); the result is the record.',
    headers: [{ name: 'title', type: 'string', input: true, doc: 'the task\'s title' }, { name: 'kind', type: 'string', input: true, doc: 'the kind of task, e.g. call' }], freeInputs: true,
  },
  {
    id: 'notify', title: 'Notify a user', doc: 'Sends an in-app notification to a user; the other inputs are the template\'s data.',
    headers: [{ name: 'to', type: 'string', required: true, input: true, doc: 'the user\'s ID' }, { name: 'template', type: 'string', doc: 'the notification template' }], freeInputs: true,
  },
  {
    id: 'http', title: 'Call an HTTP endpoint', doc: 'Calls a URL the outbound policy allows; 5xx answers and network errors are retried, 4xx answers are results.',
    headers: [{ name: 'url', type: 'string', required: true, input: true, doc: 'the URL' }, { name: 'method', type: 'string', input: true, doc: 'GET (default), POST when there is a body, or any method' },
      { name: 'timeout', type: 'string', doc: 'the call\'s timeout (ISO 8601 or Go duration, default 30s)' }],
    inputs: [{ name: 'body', type: 'any', doc: 'sent as JSON' }, { name: 'headers', type: 'object', doc: 'request headers' }, { name: 'queryParameters', type: 'object', doc: 'added to the URL\'s query' }],
    result: obj({ status: S('int'), body: S('any'), headers: S('any') }),
  },
  {
    id: 'connector', title: 'Call a connector', doc: 'Calls an operation of a configured connector (an ERP plugin instance) with the inputs as its request; the result is the plugin\'s answer.',
    headers: [{ name: 'connector', type: 'string', required: true, doc: 'the name of a configured connector' }, { name: 'operation', type: 'string', required: true, doc: 'the operation, e.g. FindCustomers' }],
    freeInputs: true,
  },
];

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

/** Where the descriptions came from: the server's registry, or the copy in the app. */
export type Source = 'api' | 'local';

/** The task types a service task may name: the server's registry when it offers one, else the local copy. */
export async function loadTaskTypes(): Promise<{ types: TaskTypeInfo[]; source: Source }> {
  try {
    const list = await get<TaskTypeInfo[]>('/api/v1/task-types');
    if (Array.isArray(list) && list.length) return { types: normalise(list).filter((x) => !x.internal), source: 'api' };
  } catch {
    // Not offered by this server yet: the local descriptions below are keyed by the same IDs.
  }
  return { types: normalise(LOCAL_TASK_TYPES), source: 'local' };
}
