// The app's own words in English and Russian. English text is the key (as gettext does), ru.json holds
// the Russian; TestTranslationsComplete (admin/ui) fails when a t('...') in the sources has no Russian.
// Entity, field and option labels come from the schemas' own en/ru labels, not from here. The Russian
// words load on demand, so the shell stays small for everyone else.
import { prefs } from './state.svelte';

const dict: Record<string, Record<string, string>> = {};

/** Loads a language's words before the app shows them. */
export async function loadLanguage(lang: string): Promise<void> {
  if (lang === 'ru' && !dict.ru) dict.ru = (await import('./ru.json')).default as Record<string, string>;
}

/** Translates an English UI text into the user's language, filling {name} placeholders. */
export function t(key: string, vars?: Record<string, string | number>): string {
  let s = (prefs.lang !== 'en' && dict[prefs.lang]?.[key]) || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}
