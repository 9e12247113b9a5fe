// Numbers, shares, durations and months in the user's language, for the dashboards' figures.
import { prefs } from '../../lib/state.svelte';
import { t } from '../../lib/i18n';

const locale = () => (prefs.lang === 'ru' ? 'ru-RU' : 'en-GB');

/** A number with at most `digits` decimals, grouped as the language writes it. */
export function num(n: number | undefined, digits = 0): string {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n || 0);
}

/** An amount of money (sums of amounts as they are; the currency filter says which). */
export const money = (n: number | undefined) => num(n, 2);

/** A share 0–1 as a percentage with one decimal. */
export function pct(share: number | undefined): string {
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(share || 0);
}

/** Hours with two decimals. */
export const hours = (h: number | undefined) => t('{n} h', { n: num(h, 2) });

/** A duration in milliseconds in the largest unit that keeps it above 1. */
export function duration(ms: number | undefined): string {
  const v = ms || 0;
  if (v < 1000) return t('{n} ms', { n: num(v, 1) });
  if (v < 60_000) return t('{n} s', { n: num(v / 1000, 2) });
  if (v < 3_600_000) return t('{n} min', { n: num(v / 60_000, 1) });
  return t('{n} h', { n: num(v / 3_600_000, 1) });
}

/** A month given as its first day (YYYY-MM-01), e.g. "Nov 2026". */
export function month(day: string): string {
  const d = new Date(day + 'T00:00:00Z');
  if (isNaN(d.getTime())) return day;
  return new Intl.DateTimeFormat(locale(), { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(d);
}

/** A date (YYYY-MM-DD) as the language writes it. */
export function day(d: string): string {
  const x = new Date(d + 'T00:00:00Z');
  if (!d || isNaN(x.getTime())) return d || '';
  return new Intl.DateTimeFormat(locale(), { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(x);
}
