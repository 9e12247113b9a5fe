// bpmn-js and its properties panel say things through a `translate` service; this one answers in the
// user's language for the texts an analyst meets most (palette, context pad, the panel's own groups),
// each a literal t() call so the translation check sees it. Anything else stays in English.
import { t } from '../lib/i18n';

const table: Record<string, () => string> = {
  General: () => t('General'),
  Name: () => t('Name'),
  ID: () => t('ID'),
  Documentation: () => t('Documentation'),
  'Element documentation': () => t('Element documentation'),
  'Process documentation': () => t('Process documentation'),
  Message: () => t('Message'),
  'Global message reference': () => t('Global message reference'),
  'Create new ...': () => t('Create new ...'),
  '<none>': () => t('(none)'),
  Error: () => t('Error'),
  'Global error reference': () => t('Global error reference'),
  Code: () => t('Code'),
  Link: () => t('Link'),
  'Toggle section': () => t('Toggle section'),
  'Create new list item': () => t('Create new list item'),
  'Delete item': () => t('Delete item'),
  'Toggle list item': () => t('Toggle list item'),
  Create: () => t('Create'),
  'Activate hand tool': () => t('Activate hand tool'),
  'Activate lasso tool': () => t('Activate lasso tool'),
  'Activate create/remove space tool': () => t('Activate create/remove space tool'),
  'Activate global connect tool': () => t('Activate global connect tool'),
  'Create start event': () => t('Create start event'),
  'Create intermediate/boundary event': () => t('Create intermediate/boundary event'),
  'Create end event': () => t('Create end event'),
  'Create gateway': () => t('Create gateway'),
  'Create task': () => t('Create task'),
  'Create data object reference': () => t('Create data object reference'),
  'Create data store reference': () => t('Create data store reference'),
  'Create expanded sub-process': () => t('Create expanded sub-process'),
  'Create pool/participant': () => t('Create pool/participant'),
  'Create group': () => t('Create group'),
  'Append task': () => t('Append task'),
  'Append end event': () => t('Append end event'),
  'Append gateway': () => t('Append gateway'),
  'Append intermediate/boundary event': () => t('Append intermediate/boundary event'),
  'Change element': () => t('Change element'),
  Delete: () => t('Delete'),
  'Connect using sequence/message flow or association': () => t('Connect using sequence/message flow or association'),
  'Connect to other element': () => t('Connect to other element'),
  'Add text annotation': () => t('Add text annotation'),
};

/** The translate service of the modeler and the panel: {name} placeholders filled either way. */
export function translate(template: string, replacements?: Record<string, string>): string {
  let s = table[template]?.() || template;
  for (const [k, v] of Object.entries(replacements || {})) s = s.split(`{${k}}`).join(String(v));
  return s;
}
