// Entity schemas as the API gives them (GET /api/v1/schemas), and what the app derives from them: display
// names, sortable fields, filterable fields, labels in the user's language.
import { t } from './i18n';

export interface Label {
  en?: string;
  ru?: string;
}

export type FieldType =
  | 'string' | 'text' | 'integer' | 'decimal' | 'money' | 'boolean' | 'date' | 'datetime' | 'enum'
  | 'email' | 'phone' | 'url' | 'reference' | 'list' | 'object';

export const FIELD_TYPES: FieldType[] = [
  'string', 'text', 'integer', 'decimal', 'money', 'boolean', 'date', 'datetime', 'enum', 'email', 'phone', 'url',
  'reference', 'list', 'object',
];

/** The name of a field type in the user's language. */
export function typeName(ft: string): string {
  const names: Record<string, () => string> = {
    string: () => t('Short text'),
    text: () => t('Long text'),
    integer: () => t('Whole number'),
    decimal: () => t('Decimal number'),
    money: () => t('Money'),
    boolean: () => t('Yes or no'),
    date: () => t('Date'),
    datetime: () => t('Date and time'),
    enum: () => t('Choice of options'),
    email: () => t('Email'),
    phone: () => t('Phone'),
    url: () => t('Web address'),
    reference: () => t('Reference to a record'),
    list: () => t('List'),
    object: () => t('Group of fields'),
  };
  return names[ft]?.() || ft;
}

export interface Option {
  value: string;
  label: Label;
}

export interface Rule {
  expr: string;
  message: Label;
}

export interface Field {
  name?: string;
  type: FieldType;
  label?: Label;
  description?: Label;
  required?: boolean;
  unique?: boolean;
  indexed?: boolean;
  readOnly?: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  computed?: string;
  /** How a merge of duplicates combines the field: 'sum' adds the two values (counts, totals), 'latest'
   * keeps the value set last (a last rating); none keeps the survivor's, filling it only when empty. */
  merge?: 'sum' | 'latest';
  rules?: Rule[];
  options?: Option[];
  ref?: string;
  item?: Field;
  fields?: Field[];
}

export interface Entity {
  name: string;
  label: Label;
  description?: Label;
  version?: number;
  fields: Field[];
  dedupeKeys?: string[];
}

/** The caller's field access on an entity: fields it never sees, fields it may not change. */
export interface FieldAccess {
  hidden: string[];
  readOnly: string[];
}

export interface SchemaInfo {
  entity: Entity;
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
  builtin: boolean;
  access?: FieldAccess;
}

export type Rec = Record<string, any>;

export function text(l: Label | string | undefined, lang: string): string {
  if (!l) return '';
  if (typeof l === 'string') return l;
  return (lang === 'ru' ? l.ru || l.en : l.en || l.ru) || '';
}

export function fieldLabel(f: Field, lang: string): string {
  return text(f.label, lang) || f.name || '';
}

/** System fields storage adds to every record (engine/schema.SystemFields). */
export const SYSTEM_FIELDS: Field[] = [
  { name: 'id', type: 'string', readOnly: true, label: { en: 'ID', ru: 'ID' } },
  { name: 'version', type: 'integer', readOnly: true, label: { en: 'Version', ru: 'Версия' } },
  { name: 'createdAt', type: 'datetime', readOnly: true, label: { en: 'Created at', ru: 'Создано' } },
  { name: 'updatedAt', type: 'datetime', readOnly: true, label: { en: 'Updated at', ru: 'Изменено' } },
  { name: 'createdBy', type: 'string', readOnly: true, label: { en: 'Created by', ru: 'Кем создано' } },
  { name: 'updatedBy', type: 'string', readOnly: true, label: { en: 'Updated by', ru: 'Кем изменено' } },
];

export function isSystem(name: string): boolean {
  return SYSTEM_FIELDS.some((f) => f.name === name) || name === 'deletedAt' || name === 'deletedBy';
}

/** The field that names a record in lists and links: the first of the usual names the entity has. */
export function displayField(e: Entity): string {
  for (const n of ['name', 'fullName', 'title', 'subject', 'number', 'firstName']) {
    if (e.fields.some((f) => f.name === n)) return n;
  }
  const s = e.fields.find((f) => f.type === 'string');
  return s?.name || 'id';
}

export function displayName(e: Entity | undefined, r: Rec | undefined): string {
  if (!r) return '';
  if (!e) return String(r.id || '');
  const v = r[displayField(e)];
  return v === undefined || v === null || v === '' ? String(r.id || '') : String(v);
}

/** A record's phone: the first phone field, or the first item of a list of phones. */
export function phoneOf(e: Entity | undefined, r: Rec | undefined): string {
  if (!e || !r) return '';
  for (const f of e.fields) {
    if (f.type === 'phone' && r[f.name!]) return r[f.name!];
    if (f.type === 'list' && f.item?.type === 'phone' && Array.isArray(r[f.name!]) && r[f.name!].length) return r[f.name!][0];
  }
  return '';
}

function statusLike(f: Field): boolean {
  if (f.type !== 'enum') return false;
  const n = f.name || '';
  return ['status', 'stage', 'kind', 'type'].includes(n) || n.endsWith('Status') || n.endsWith('Stage');
}

/** Paths a list may be sorted by, mirroring engine/schema.SortableFields (indexed fields only). */
export function sortableFields(e: Entity): string[] {
  const out = ['id', 'updatedAt', 'createdAt'];
  const add = (n: string) => {
    if (!out.includes(n)) out.push(n);
  };
  if (e.fields.some((f) => f.name === 'owner')) add('owner');
  for (const f of e.fields) if (f.unique) add(f.name!);
  for (const k of e.dedupeKeys || []) add(k);
  for (const f of e.fields) {
    const ref = f.type === 'reference' || (f.type === 'list' && f.item?.type === 'reference');
    if (ref || statusLike(f) || f.indexed) add(f.name!);
  }
  return out;
}

/** Whether a path is hidden by the caller's field access (a path is hidden when it or a parent is). */
export function hiddenBy(access: FieldAccess | undefined, path: string): boolean {
  if (!access) return false;
  return access.hidden.some((h) => path === h || path.startsWith(h + '.'));
}

export function readOnlyBy(access: FieldAccess | undefined, path: string): boolean {
  if (!access) return false;
  return access.readOnly.some((h) => path === h || path.startsWith(h + '.'));
}

/** The entity's fields the caller may see, with nested objects pruned the same way. */
export function visibleFields(fields: Field[], access: FieldAccess | undefined, prefix = ''): Field[] {
  const out: Field[] = [];
  for (const f of fields) {
    const path = prefix + f.name;
    if (hiddenBy(access, path)) continue;
    if (f.type === 'object' && f.fields) out.push({ ...f, fields: visibleFields(f.fields, access, path + '.') });
    else out.push(f);
  }
  return out;
}

/** A string literal in the query language (engine/query), quoted and escaped. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** A readable value of a field for tables and diffs. */
export function formatValue(f: Field | undefined, v: unknown, lang: string, fmt: (iso: string, dateOnly: boolean) => string): string {
  if (v === undefined || v === null || v === '') return '';
  if (!f) return typeof v === 'object' ? JSON.stringify(v) : String(v);
  switch (f.type) {
    case 'enum': {
      const o = f.options?.find((x) => x.value === v);
      return o ? text(o.label, lang) || o.value : String(v);
    }
    case 'boolean':
      return v ? (lang === 'ru' ? 'да' : 'yes') : lang === 'ru' ? 'нет' : 'no';
    case 'money': {
      const m = v as { amount?: number; currency?: string };
      if (typeof m !== 'object') return String(v);
      try {
        return new Intl.NumberFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', { style: 'currency', currency: m.currency || 'RUB' }).format(m.amount ?? 0);
      } catch {
        return `${m.amount} ${m.currency || ''}`;
      }
    }
    case 'date':
      return fmt(String(v), true);
    case 'datetime':
      return fmt(String(v), false);
    case 'list':
      return Array.isArray(v) ? v.map((x) => formatValue(f.item, x, lang, fmt)).join(', ') : String(v);
    case 'object':
      return JSON.stringify(v);
  }
  return String(v);
}

/** Finds the field at a dotted path ("budget.amount" is the money field budget; "addresses.0.city"). */
export function fieldAt(fields: Field[], path: string): Field | undefined {
  const [head, ...rest] = path.split('.');
  const f = fields.find((x) => x.name === head);
  if (!f || rest.length === 0) return f;
  if (f.type === 'object') return fieldAt(f.fields || [], rest.join('.'));
  if (f.type === 'list' && f.item) {
    const r = /^\d+$/.test(rest[0]) ? rest.slice(1) : rest;
    if (r.length === 0) return f.item;
    return f.item.type === 'object' ? fieldAt(f.item.fields || [], r.join('.')) : f.item;
  }
  return f;
}
