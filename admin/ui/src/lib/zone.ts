// Time-zone and relative-time helpers that need only the browser's Intl, so the shell loads no date
// library: the browser's zone, and "5 minutes ago" in the user's language.

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "in 3 hours" / "3 hours ago", in the user's language. */
export function relative(iso: string, lang: string, now = new Date()): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const secs = Math.round((d.getTime() - now.getTime()) / 1000);
  const fmt = new Intl.RelativeTimeFormat(lang === 'ru' ? 'ru' : 'en', { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(secs) >= size || unit === 'second') return fmt.format(Math.round(secs / size), unit);
  }
  return '';
}
