// User tasks of running processes (GET /api/v1/tasks) and their forms: each form field of the BPMN user
// task becomes a schema field, so the same renderer draws task forms and record forms.
import type { Field } from './schema';

export interface FormField {
  name: string;
  type: string;
  label?: string;
  required?: boolean;
}

export interface TaskView {
  id: string;
  instanceId: string;
  processKey: string;
  element: string;
  name?: string;
  assignee?: string;
  candidateGroups?: string[];
  candidateUsers?: string[];
  dueDate?: string;
  formKey?: string;
  fields?: FormField[];
  created: string;
}

/** The schema field a task form field is drawn as. */
export function formField(f: FormField): Field {
  const type = (
    {
      int: 'integer', integer: 'integer', float: 'decimal', number: 'decimal', bool: 'boolean', boolean: 'boolean',
      time: 'datetime', datetime: 'datetime', date: 'date', string: 'string', text: 'text',
    } as Record<string, Field['type']>
  )[f.type.toLowerCase()] || 'string';
  return { name: f.name, type, label: { en: f.label || f.name }, required: !!f.required };
}

/** The form's values as the process expects them: empty ones left out, dates as RFC 3339. */
export function formValues(fields: FormField[], values: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const f of fields) {
    let v = values[f.name];
    if (v === undefined || v === null || v === '') continue;
    if (f.type.toLowerCase() === 'date' && /^\d{4}-\d{2}-\d{2}$/.test(v)) v = v + 'T00:00:00Z';
    out[f.name] = v;
  }
  return out;
}

/** Checks required fields before sending, so the user sees what is missing at once. */
export function missing(fields: FormField[], values: Record<string, any>, message: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.required && f.type.toLowerCase() !== 'bool' && f.type.toLowerCase() !== 'boolean' && (v === undefined || v === null || v === '')) out[f.name] = message;
  }
  return out;
}

/** Reads the instance's refusal ("field \"x\" is required; field \"y\": want int") into field errors. */
export function refusalErrors(detail: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /field "([^"]+)"(?::\s*([^;]+)| (is required|is not on the form))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(detail))) out[m[1]] = (m[2] || m[3]).trim();
  return out;
}
