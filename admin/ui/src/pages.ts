// Every page of the app, loaded on demand so the shell stays small.
import type { Component } from 'svelte';

type Loader = () => Promise<{ default: Component<any> }>;

export const pages: Record<string, Loader> = {
  myday: () => import('./pages/MyDay.svelte'),
  inbox: () => import('./pages/Inbox.svelte'),
  records: () => import('./pages/RecordList.svelte'),
  record: () => import('./pages/RecordPage.svelte'),
  kanban: () => import('./pages/LeadsBoard.svelte'),
  complaints: () => import('./pages/ComplaintsBoard.svelte'),
  import: () => import('./pages/Import.svelte'),
  schemas: () => import('./pages/Schemas.svelte'),
  schema: () => import('./pages/SchemaEditor.svelte'),
  rulesets: () => import('./pages/Rulesets.svelte'),
  ruleset: () => import('./pages/RulesetEditor.svelte'),
  calendars: () => import('./pages/Calendars.svelte'),
  processes: () => import('./pages/Processes.svelte'),
  process: () => import('./pages/ProcessDesigner.svelte'),
  monitor: () => import('./pages/Monitor.svelte'),
  instance: () => import('./pages/Instance.svelte'),
  users: () => import('./pages/Users.svelte'),
  teams: () => import('./pages/Teams.svelte'),
  roles: () => import('./pages/Roles.svelte'),
  role: () => import('./pages/RoleEditor.svelte'),
  tokens: () => import('./pages/Tokens.svelte'),
  connectors: () => import('./pages/Connectors.svelte'),
  audit: () => import('./pages/Audit.svelte'),
  profile: () => import('./pages/Profile.svelte'),
  notifications: () => import('./pages/Notifications.svelte'),
  analytics: () => import('./pages/analytics/Analytics.svelte'),
};

/** Which page an app path shows, with its parameters. */
export function resolve(parts: string[]): { page: string; params: Record<string, string> } {
  const [a, b, c] = parts;
  switch (a) {
    case undefined:
    case 'my-day':
      return { page: 'myday', params: {} };
    case 'inbox':
      return { page: 'inbox', params: {} };
    case 'records':
      if (c) return { page: 'record', params: { entity: b, id: c } };
      return { page: 'records', params: { entity: b || '' } };
    case 'boards':
      return { page: b === 'complaints' ? 'complaints' : 'kanban', params: {} };
    case 'import':
      return { page: 'import', params: { entity: b || '' } };
    case 'schemas':
      return b ? { page: 'schema', params: { entity: b } } : { page: 'schemas', params: {} };
    case 'rulesets':
      return b ? { page: 'ruleset', params: { key: b } } : { page: 'rulesets', params: {} };
    case 'calendars':
      return { page: 'calendars', params: {} };
    case 'processes':
      return b ? { page: 'process', params: { key: b } } : { page: 'processes', params: {} };
    case 'monitor':
      return { page: 'monitor', params: { key: b || '' } };
    case 'instances':
      return b ? { page: 'instance', params: { id: b } } : { page: 'monitor', params: { key: '' } };
    case 'admin':
      if (b === 'roles' && c) return { page: 'role', params: { name: c } };
      return { page: b || 'users', params: {} };
    case 'profile':
      return { page: 'profile', params: {} };
    case 'notifications':
      return { page: 'notifications', params: {} };
    case 'analytics':
      return { page: 'analytics', params: { area: b || 'customers' } };
  }
  return { page: '', params: {} };
}
