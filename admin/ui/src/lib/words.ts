// Words for values the API sends (history and diff operations, record actions, statuses), each a literal
// t() call so the translation check sees them.
import { t } from './i18n';

function pick(table: Record<string, () => string>, v: string): string {
  return table[v]?.() || v;
}

export const historyOp = (v: string) =>
  pick({ create: () => t('create'), update: () => t('update'), delete: () => t('delete'), restore: () => t('restore'), merge: () => t('merge') }, v);

export const diffOp = (v: string) => pick({ added: () => t('added'), removed: () => t('removed'), changed: () => t('changed') }, v);

export const actionName = (v: string) =>
  pick({ read: () => t('read'), write: () => t('write'), delete: () => t('delete'), export: () => t('export'), assign: () => t('assign') }, v);

/** Import row and job states. */
export const importState = (v: string) =>
  pick(
    {
      valid: () => t('valid'), invalid: () => t('invalid'), duplicate: () => t('duplicate'), created: () => t('created'), failed: () => t('failed'),
      skipped: () => t('skipped'), running: () => t('running'), done: () => t('done'),
    },
    v,
  );

export const outcomeName = (v: string) => pick({ success: () => t('success'), failure: () => t('failure'), denied: () => t('denied') }, v);
