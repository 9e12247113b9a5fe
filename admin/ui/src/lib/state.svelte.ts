// What the whole app shares: the signed-in user with their permissions, the user's preferences
// (language, time zone), and the entity schemas (loaded once per sign-in, refreshed after a schema save).
import { call, get, segment, Problem } from './api';
import { granted } from './perms';
import { loadLanguage } from './i18n';
import { browserZone } from './zone';
import type { SchemaInfo, Entity } from './schema';

/** A user as the API shows one. */
export interface UserView {
  id: string;
  email: string;
  name: string;
  roles: string[];
  teams: string[];
  disabled: boolean;
  createdAt: string;
}

/** The signed-in user, with the permissions this session holds. */
export interface Me extends UserView {
  permissions: string[];
  via: string;
}

function stored(key: string, fallback: string): string {
  try {
    return localStorage.getItem(key) || fallback;
  } catch {
    return fallback;
  }
}

export const session = $state<{ me: Me | null; checked: boolean }>({ me: null, checked: false });

export const prefs = $state({
  lang: stored('rapport.lang', navigator.language?.toLowerCase().startsWith('ru') ? 'ru' : 'en'),
  tz: stored('rapport.tz', browserZone()),
});

export async function setLang(lang: string): Promise<void> {
  await loadLanguage(lang);
  prefs.lang = lang;
  document.documentElement.lang = lang;
  localStorage.setItem('rapport.lang', lang);
}

export function setZone(tz: string): void {
  prefs.tz = tz;
  localStorage.setItem('rapport.tz', tz);
}

/** Whether the signed-in user holds a permission. */
export function can(perm: string): boolean {
  return !!session.me && granted(session.me.permissions, perm);
}

export const schemas = $state<{ list: SchemaInfo[]; loaded: boolean; error: Problem | null }>({ list: [], loaded: false, error: null });

export async function loadSchemas(): Promise<void> {
  if (!can('schemas.read')) {
    schemas.loaded = true;
    return;
  }
  try {
    schemas.list = await get<SchemaInfo[]>('/api/v1/schemas');
    schemas.error = null;
  } catch (e) {
    schemas.error = e as Problem;
  }
  schemas.loaded = true;
}

export function schemaOf(name: string): SchemaInfo | undefined {
  return schemas.list.find((s) => s.entity.name === name);
}

export function entityOf(name: string): Entity | undefined {
  return schemaOf(name)?.entity;
}

/** A person's own settings (a list's columns, its saved views) are kept on the server, so they follow
 * the person to any browser; this browser keeps a copy, shown until the server answers and used when a
 * setting was never stored there. */
export async function prefGet<T>(key: string, fallback: T): Promise<T> {
  try {
    const r = await get<{ value: T }>(`/api/v1/auth/me/preferences/${segment(key)}`);
    localSet(key, r.value);
    return r.value;
  } catch {
    return localGet(key, fallback);
  }
}

/** Stores a setting on the server and in this browser; the promise fails with the server's problem. */
export async function prefSet(key: string, v: unknown): Promise<void> {
  localSet(key, v);
  await call('PUT', `/api/v1/auth/me/preferences/${segment(key)}`, { body: { value: v } });
}

/** This browser's copy of a person's setting. */
export function localGet<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(`rapport.${session.me?.id || 'anon'}.${key}`);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}

export function localSet(key: string, v: unknown): void {
  localStorage.setItem(`rapport.${session.me?.id || 'anon'}.${key}`, JSON.stringify(v));
}
