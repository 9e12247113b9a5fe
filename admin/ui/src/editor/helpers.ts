// The helper functions and keywords expressions may use, for completion. engine/expression's
// TestEditorHelpersMatchTheEngine checks this list against the engine's functions.

export interface Helper {
  name: string;
  signature: string;
  doc: string;
}

export const HELPERS: Helper[] = [
  { name: 'addDays', signature: '(t, n) → time', doc: 'addDays(createdAt, 30): calendar days in the zone of t' },
  { name: 'addHours', signature: '(t, h) → time', doc: 'addHours(now, 1.5)' },
  { name: 'addMinutes', signature: '(t, m) → time', doc: 'addMinutes(now, 90)' },
  { name: 'daysBetween', signature: '(a, b) → int', doc: 'daysBetween(createdAt, now) > 30: whole days from a to b' },
  { name: 'hoursBetween', signature: '(a, b) → float', doc: 'hoursBetween(openedAt, now) >= 4' },
  { name: 'startOfDay', signature: '(t[, zone]) → time', doc: 'startOfDay(now, "Europe/Berlin")' },
  { name: 'weekday', signature: '(t[, zone]) → int', doc: 'weekday(now) in [0, 6]: 0 is Sunday' },
  { name: 'date', signature: '(s[, layout[, zone]]) → time', doc: 'date("2025-12-24")' },
  { name: 'timezone', signature: '(zone) → location', doc: 'createdAt.In(timezone("Asia/Tokyo")).Hour()' },
  { name: 'addBusinessHours', signature: '(t, h, calendar) → time', doc: 'addBusinessHours(openedAt, 8, "support")' },
  { name: 'businessHoursBetween', signature: '(a, b, calendar) → float', doc: 'businessHoursBetween(openedAt, now, "support") > 16' },
  { name: 'normalizeEmail', signature: '(s) → string', doc: 'trims and lower-cases an email' },
  { name: 'digitsOnly', signature: '(s) → string', doc: 'digitsOnly(phone): "+49 (30) 123" → "4930123"' },
  { name: 'normalizeSpace', signature: '(s) → string', doc: 'collapses runs of white space' },
  { name: 'inList', signature: '(x, list) → bool', doc: 'inList(source, ["partner", "event"])' },
  { name: 'hasAny', signature: '(list, values) → bool', doc: 'hasAny(tags, ["vip", "key-account"])' },
  { name: 'hasAll', signature: '(list, values) → bool', doc: 'hasAll(tags, ["gdpr-ok", "newsletter"])' },
  { name: 'segment', signature: '(name) → set', doc: 'id in segment("top-20")' },
  { name: 'inSegment', signature: '(key, name) → bool', doc: 'inSegment(email, "newsletter")' },
  { name: 'len', signature: '(v) → int', doc: 'length of a string, list or map' },
  { name: 'lower', signature: '(s) → string', doc: 'lower-case' },
  { name: 'upper', signature: '(s) → string', doc: 'upper-case' },
  { name: 'trim', signature: '(s) → string', doc: 'trims white space' },
  { name: 'split', signature: '(s, sep[, n]) → list', doc: 'split("a,b", ",")' },
  { name: 'splitAfter', signature: '(s, sep[, n]) → list', doc: 'splitAfter("a,b", ",") keeps the separators: ["a,", "b"]' },
  { name: 'hasPrefix', signature: '(s, prefix) → bool', doc: 'hasPrefix(phone, "+7")' },
  { name: 'hasSuffix', signature: '(s, suffix) → bool', doc: 'hasSuffix(email, ".ru")' },
  { name: 'any', signature: '(list, predicate) → bool', doc: 'any(lines, .quantity > 10)' },
  { name: 'all', signature: '(list, predicate) → bool', doc: 'all(lines, .price > 0)' },
  { name: 'filter', signature: '(list, predicate) → list', doc: 'filter(lines, .quantity > 1)' },
  { name: 'map', signature: '(list, expr) → list', doc: 'map(lines, .total)' },
  { name: 'count', signature: '(list, predicate) → int', doc: 'count(lines, .quantity > 1)' },
  { name: 'sum', signature: '(list) → number', doc: 'sum(map(lines, .total))' },
  { name: 'max', signature: '(a, b...) → number', doc: 'max(a, b)' },
  { name: 'min', signature: '(a, b...) → number', doc: 'min(a, b)' },
  { name: 'round', signature: '(x) → float', doc: 'round(2.5)' },
  { name: 'abs', signature: '(x) → number', doc: 'abs(-3)' },
  { name: 'duration', signature: '(s) → duration', doc: 'duration("4h")' },
  { name: 'repeat', signature: '(s, n) → string', doc: 'repeat("-", 3)' },
  { name: 'replace', signature: '(s, old, new) → string', doc: 'replace(phone, " ", "")' },
  { name: 'join', signature: '(list, sep) → string', doc: 'join(tags, ", ")' },
  { name: 'string', signature: '(v) → string', doc: 'string(score)' },
];

export const KEYWORDS = ['and', 'or', 'not', 'in', 'contains', 'startsWith', 'endsWith', 'matches', 'let', 'true', 'false', 'nil', 'now'];
