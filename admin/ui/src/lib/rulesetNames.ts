// Names of rule-set kinds in the user's language.
import { t } from './i18n';

export function kindName(k: string): string {
  const names: Record<string, () => string> = {
    validation: () => t('Validation'),
    computed: () => t('Computed fields'),
    scoring: () => t('Scoring'),
    decision: () => t('Decision'),
    decision_table: () => t('Decision table'),
    assignment: () => t('Assignment'),
    sla: () => t('SLA deadlines'),
  };
  return names[k]?.() || k;
}
