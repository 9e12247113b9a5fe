// Dates and times in the user's time zone (chosen in the profile, the browser's by default), with
// date-fns and @date-fns/tz: the API speaks RFC 3339 instants and YYYY-MM-DD dates; people see wall-clock
// time in their zone, and datetime inputs are read back in that zone, not the browser's.
import { TZDate } from '@date-fns/tz';
import { format, differenceInSeconds, endOfDay, startOfDay } from 'date-fns';
import { ru, enGB } from 'date-fns/locale';

export { browserZone, relative } from './zone';

/** Every IANA zone the browser knows, for zone pickers. */
export function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const list = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  return list.includes('UTC') ? list : ['UTC', ...list];
}

const locale = (lang: string) => (lang === 'ru' ? ru : enGB);

/** Formats an instant (or a YYYY-MM-DD date) for people. */
export function formatWhen(iso: string, tz: string, lang: string, dateOnly = false): string {
  if (!iso) return '';
  if (dateOnly || /^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
    return format(new Date(y, m - 1, d), 'd MMM yyyy', { locale: locale(lang) });
  }
  const t = new TZDate(iso, tz);
  if (isNaN(t.getTime())) return iso;
  return format(t, 'd MMM yyyy, HH:mm', { locale: locale(lang) });
}

/** The value of a datetime-local input showing the instant in zone tz. */
export function toLocalInput(iso: string | undefined, tz: string): string {
  if (!iso) return '';
  const t = new TZDate(iso, tz);
  if (isNaN(t.getTime())) return '';
  return format(t, "yyyy-MM-dd'T'HH:mm");
}

/** Reads a datetime-local input's wall-clock value in zone tz back into an RFC 3339 instant. */
export function fromLocalInput(v: string, tz: string): string {
  if (!v) return '';
  const [d, t] = v.split('T');
  const [y, mo, day] = d.split('-').map(Number);
  const [h, mi] = (t || '00:00').split(':').map(Number);
  return new TZDate(y, mo - 1, day, h, mi, 0, tz).toISOString();
}

/** The end of today in zone tz, as an instant: "due today" means due before it. */
export function endOfTodayIn(tz: string): string {
  return endOfDay(TZDate.tz(tz)).toISOString();
}

export function startOfTodayIn(tz: string): string {
  return startOfDay(TZDate.tz(tz)).toISOString();
}

/** Seconds from now until the instant (negative when it has passed). */
export function secondsUntil(iso: string, now = new Date()): number {
  return differenceInSeconds(new Date(iso), now);
}

/** A countdown such as "2h 05m" or "-1d 3h" for SLA deadlines. */
export function countdown(iso: string, now = new Date()): string {
  let s = secondsUntil(iso, now);
  const neg = s < 0;
  s = Math.abs(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const body = d > 0 ? `${d}d ${h}h` : `${h}h ${String(m).padStart(2, '0')}m`;
  return (neg ? '−' : '') + body;
}
