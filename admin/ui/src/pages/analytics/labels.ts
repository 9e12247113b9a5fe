// Names for the values the reports group by: enum options in the schema's own words, teams and owners by
// name where the user may read them, and the empty group.
import { get } from '../../lib/api';
import { entityOf, prefs, can } from '../../lib/state.svelte';
import { text } from '../../lib/schema';
import { t } from '../../lib/i18n';
import { userName } from '../../lib/users';

/** An enum option of an entity's field in the user's language; the value itself when it is unknown. */
export function optionLabel(entity: string, field: string, v: string): string {
  if (!v) return t('(none)');
  const f = entityOf(entity)?.fields.find((x) => x.name === field);
  const o = f?.options?.find((x) => x.value === v);
  return (o && text(o.label, prefs.lang)) || v;
}

/** The entity's name in the user's language. */
export function entityLabel(entity: string): string {
  return text(entityOf(entity)?.label, prefs.lang) || entity;
}

let teams: Promise<Map<string, string>> | null = null;

/** Team names by ID, for those who may list teams (others see IDs). */
export function teamNames(): Promise<Map<string, string>> {
  if (!can('users.manage')) return Promise.resolve(new Map());
  teams ??= get<{ items: { id: string; name: string }[] }>('/api/v1/teams')
    .then((p) => new Map(p.items.map((x) => [x.id, x.name])))
    .catch(() => new Map());
  return teams;
}

/** Names of the users among ids (for owner groups), as far as the user may read them. */
export async function userNames(ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(ids.filter(Boolean).map(async (id) => out.set(id, await userName(id, t('you')))));
  return out;
}
