// Camunda Modeler element templates for Rapport's task types, generated from the same self-descriptions
// that drive the designer's properties panel: analysts who prefer the desktop modeler pick "Rapport:
// Create a record" and get the same fields (headers, inputs, a result variable), written as the zeebe:
// extension elements Rapport reads. One JSON file holds them all; Camunda Modeler loads it from its
// resources/element-templates folder.
import type { Param, TaskTypeInfo } from '../bpmn/tasktypes';

const SCHEMA = 'https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json';

interface Property {
  [k: string]: unknown;
}

function header(p: Param): Property {
  const out: Property = {
    label: p.name, description: p.doc, group: 'settings',
    type: p.enum?.length ? 'Dropdown' : 'String',
    binding: { type: 'zeebe:taskHeader', key: p.name },
  };
  if (p.enum?.length) out.choices = p.enum.map((v) => ({ name: v, value: v }));
  if (p.required) out.constraints = { notEmpty: true };
  else out.optional = true;
  return out;
}

function input(p: Param): Property {
  const out: Property = {
    label: p.name, description: p.doc, group: 'inputs', type: 'String', feel: 'optional',
    binding: { type: 'zeebe:input', name: p.name },
  };
  if (p.required) out.constraints = { notEmpty: true };
  else out.optional = true;
  return out;
}

/** One element template per service task type. */
export function elementTemplates(types: TaskTypeInfo[]): unknown[] {
  return types
    .filter((tt) => !tt.internal)
    .map((tt) => ({
      $schema: SCHEMA,
      name: `Rapport: ${tt.title}`,
      id: `dev.rapport.task.${tt.id}`,
      description: tt.doc,
      version: 1,
      category: { id: 'rapport', name: 'Rapport' },
      appliesTo: ['bpmn:Task'],
      elementType: { value: 'bpmn:ServiceTask' },
      groups: [
        { id: 'settings', label: 'Settings' },
        { id: 'inputs', label: 'Inputs' },
        { id: 'output', label: 'Output' },
        { id: 'retries', label: 'Retries' },
      ],
      properties: [
        { type: 'Hidden', value: tt.id, binding: { type: 'zeebe:taskDefinition', property: 'type' } },
        ...(tt.headers || []).map(header),
        ...(tt.inputs || []).map(input),
        {
          label: 'Result variable', description: 'The process variable that receives the task\'s result', group: 'output', type: 'String', optional: true,
          binding: { type: 'zeebe:output', source: '=result' },
        },
        {
          label: 'Attempts', description: 'How often the task runs before an incident waits for an operator (default 3)', group: 'retries', type: 'String', value: '3',
          binding: { type: 'zeebe:taskDefinition', property: 'retries' },
        },
      ],
    }));
}

/** Offers text as a file download. */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
