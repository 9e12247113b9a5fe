// What the process monitor reads from the instance API (workflows/instances): list items, counts, the
// process card, batches; and the words for instance states.
import { call, segment } from './api';
import { t } from './i18n';

export const STATES = ['running', 'waiting', 'suspended', 'incident', 'completed', 'cancelled', 'terminated', 'failed'] as const;
/** States an operator can still act on. */
export const OPEN_STATES = ['running', 'waiting', 'suspended', 'incident'];

export interface InstanceSummary {
  id: string;
  processKey: string;
  version: number;
  state: string;
  businessKey?: string;
  entity?: string;
  recordId?: string;
  activeElements?: string[];
  incident?: string;
  startedAt: string;
  endedAt?: string;
  parent?: string;
}

export interface Counts {
  states: Record<string, number>;
  elements?: Record<string, number>;
}

export interface InstanceList {
  items: InstanceSummary[];
  next?: string;
  counts?: Counts;
}

/** The list filter of the API (query parameters) and of batches (JSON). */
export interface Filter {
  processKey?: string;
  version?: number;
  states?: string[];
  element?: string;
  businessKey?: string;
  startedAfter?: string;
  startedBefore?: string;
  ids?: string[];
}

export interface Incident {
  id: number;
  element: string;
  kind: string;
  message: string;
  time: string;
  errorType?: string;
  attempts?: number;
}

export interface Card {
  id: string;
  processKey: string;
  version: number;
  processName?: string;
  diagram: string;
  status: string;
  businessKey?: string;
  entity?: string;
  recordId?: string;
  startedAt: string;
  endedAt?: string;
  endElement?: string;
  parent?: string;
  children: { id: string; element?: string; status: string }[];
  activeElements: string[];
  elements: { element: string; name?: string; kind: string; tokens: number; waiting: number; incidents: number }[];
  timers: { element: string; name?: string; on: string; dueAt: string; fired?: number }[];
  subscriptions: { element: string; name?: string; message: string; correlationKey?: string; on: string }[];
  userTasks: { id: string; inboxId: string; element: string; name?: string; assignee?: string; candidateGroups?: string[]; dueDate?: string; created: string }[];
  variables: Record<string, unknown>;
  declaredVariables: { name: string; type: string; required?: boolean; value?: unknown }[];
  incidents?: Incident[];
  timeline: { element: string; name?: string; event: string; token: number; time: string; by?: string; reason?: string; detail?: string }[];
}

export interface MigrationPlan {
  from: number;
  to: number;
  canMigrate: boolean;
  mapping: { from: string; to: string }[];
  blockers?: { element?: string; reason: string }[];
}

export interface BatchPreview {
  count: number;
  limit: number;
  sample: InstanceSummary[];
  plans?: { instance: string; plan: MigrationPlan }[];
}

export interface BatchProgress {
  state: 'selecting' | 'running' | 'completed' | 'cancelled';
  kind: string;
  reason: string;
  total: number;
  processed: number;
  done: number;
  refused: number;
  failed: number;
  results: { instance: string; result: 'done' | 'refused' | 'failed'; message?: string }[];
}

/** The query parameters of GET /api/v1/instances for a filter. */
export function listQuery(f: Filter): Record<string, string | number | undefined> {
  return {
    processKey: f.processKey,
    version: f.version || undefined,
    state: (f.states || []).join(','),
    element: f.element,
    businessKey: f.businessKey,
    startedAfter: f.startedAfter,
    startedBefore: f.startedBefore,
  };
}

/** The BPMN XML of a published version (0: the draft), for drawing it. */
export async function processXML(key: string, version: number): Promise<string> {
  return (await call<string>('GET', `/api/v1/processes/${segment(key)}/versions/${version}/xml`, { text: true, headers: { Accept: 'application/xml' } })).data;
}

/** Runs an operation on an instance (POST /api/v1/instances/{id}/{op}). */
export async function operate<T = unknown>(id: string, op: string, body: Record<string, unknown>): Promise<T> {
  return (await call<T>('POST', `/api/v1/instances/${segment(id)}/${op}`, { body })).data;
}

/** The word for an instance state in the user's language. */
export function stateLabel(s: string): string {
  switch (s) {
    case 'running': return t('running');
    case 'waiting': return t('waiting');
    case 'suspended': return t('suspended');
    case 'incident': return t('incident');
    case 'completed': return t('completed');
    case 'cancelled': return t('cancelled');
    case 'terminated': return t('terminated');
    case 'failed': return t('failed');
  }
  return s;
}

/** The tag class of a state (colour is never the only cue: the word is shown too). */
export function stateClass(s: string): string {
  if (s === 'incident' || s === 'failed' || s === 'terminated') return 'tag bad';
  if (s === 'completed') return 'tag good';
  return 'tag';
}
