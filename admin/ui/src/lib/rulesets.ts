// Rule sets as the API gives them (engine/rules.RuleSet and the rule-set store's Info).

export type Kind = 'validation' | 'computed' | 'scoring' | 'decision' | 'decision_table' | 'assignment' | 'sla';

export const KINDS: Kind[] = ['validation', 'computed', 'scoring', 'decision', 'decision_table', 'assignment', 'sla'];

export interface RuleDef {
  name: string;
  when?: string;
  points?: number;
  message?: string;
  field?: string;
  value?: string;
  outcome?: unknown;
  disabled?: boolean;
}

export interface DecisionTable {
  hitPolicy: string;
  aggregation?: string;
  inputs: { name: string; expression: string; type?: string }[];
  outputs: { name: string; type?: string; values?: unknown[] }[];
  rows: { inputs: string[]; outputs: unknown[]; description?: string }[];
}

export interface Route {
  name: string;
  when?: string;
  queue?: string;
  team?: string;
  strategy?: string;
  assigneeFrom?: string;
}

export interface SLATarget {
  name: string;
  when?: string;
  response?: string;
  resolution?: string;
}

export interface TestCase {
  name: string;
  input: Record<string, unknown>;
  now?: string;
  context?: unknown;
  expect: Record<string, unknown>;
}

export interface RuleSet {
  key: string;
  kind: Kind;
  entity?: string;
  description?: string;
  rules?: RuleDef[];
  hitPolicy?: string;
  default?: unknown;
  table?: DecisionTable;
  assignment?: { routes: Route[]; default?: Route };
  sla?: { calendar?: string; start?: string; targets: SLATarget[]; default?: SLATarget };
  tests?: TestCase[];
}

export interface VersionMeta {
  key: string;
  version: number;
  hash: string;
  publishedAt: string;
  publishedBy: string;
  note?: string;
}

export interface RulesetInfo {
  key: string;
  kind: Kind;
  entity: string;
  description?: string;
  draft: RuleSet;
  draftHash: string;
  revision: number;
  latestVersion: number;
  published: boolean;
  versions: VersionMeta[];
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
  archived: boolean;
  fields?: string[];
  problems?: { pointer?: string; message: string }[];
}

export interface Outcome {
  kind: Kind;
  valid?: boolean;
  violations?: { rule: string; field?: string; message: string }[];
  values?: Record<string, unknown>;
  score?: number;
  fired?: { name: string; points: number }[];
  decision?: unknown;
  matched?: string[];
  table?: { rows: number[]; output: unknown };
  assignment?: Record<string, unknown>;
  sla?: { target: string; start: string; responseDue?: string; resolutionDue?: string };
}

export interface TestReport {
  passed: number;
  failed: number;
  results: { name: string; passed: boolean; got?: Record<string, unknown>; mismatches?: string[]; error?: string }[];
}

export interface WhatIf {
  total: number;
  changed: number;
  errors: number;
  records: { index: number; draft?: Record<string, unknown>; published?: Record<string, unknown>; draftError?: string; publishedError?: string; changed: boolean }[];
  summary: string[];
  publishedVersion: number;
  recordIds: string[];
}

/** A new rule set of a kind, with one placeholder part to fill in. */
export function starter(key: string, kind: Kind, entity: string): RuleSet {
  const rs: RuleSet = { key, kind, entity: entity || undefined };
  switch (kind) {
    case 'validation':
      rs.rules = [{ name: 'rule 1', when: '', message: '' }];
      break;
    case 'computed':
      rs.rules = [{ name: 'rule 1', field: '', value: '' }];
      break;
    case 'scoring':
      rs.rules = [{ name: 'rule 1', when: '', points: 10 }];
      break;
    case 'decision':
      rs.rules = [{ name: 'rule 1', when: '', outcome: '' }];
      rs.hitPolicy = 'first';
      break;
    case 'decision_table':
      rs.table = { hitPolicy: 'FIRST', inputs: [{ name: 'input 1', expression: '' }], outputs: [{ name: 'result', type: 'string' }], rows: [{ inputs: ['-'], outputs: [''] }] };
      break;
    case 'assignment':
      rs.assignment = { routes: [{ name: 'route 1', when: '', team: '' }] };
      break;
    case 'sla':
      rs.sla = { targets: [{ name: 'default', when: '', response: '4h', resolution: '24h' }] };
      break;
  }
  return rs;
}

/** A table cell or outcome typed in a text input: JSON when it reads as JSON, else the text itself. */
export function parseValue(s: string, type?: string): unknown {
  const v = s.trim();
  if (type === 'string') return s;
  if (v === '') return '';
  if (type === 'int' || type === 'float') {
    const n = Number(v);
    return isNaN(n) ? s : n;
  }
  if (type === 'bool') return v === 'true' ? true : v === 'false' ? false : s;
  try {
    return JSON.parse(v);
  } catch {
    return s;
  }
}

export function showValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') {
    try {
      JSON.parse(v);
      return JSON.stringify(v);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v);
}
