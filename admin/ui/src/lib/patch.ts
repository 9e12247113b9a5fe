// Record edits as RFC 7396 merge patches: only what changed is sent, null removes a field. Empty values
// (an empty string, an empty object or list, null) count as absent, so an untouched empty input never
// becomes a change.

function empty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as object).every(empty);
  return false;
}

function same(a: unknown, b: unknown): boolean {
  if (empty(a) && empty(b)) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The merge patch turning before into after, for the given (writable) keys; {} when nothing changed. */
export function mergePatch(before: Record<string, any>, after: Record<string, any>, keys: string[]): Record<string, any> {
  const out: Record<string, any> = {};
  for (const k of keys) {
    const a = before[k];
    const b = after[k];
    if (same(a, b)) continue;
    if (empty(b)) {
      out[k] = null;
    } else if (b && typeof b === 'object' && !Array.isArray(b) && a && typeof a === 'object' && !Array.isArray(a) && !('amount' in b)) {
      const sub = mergePatch(a, b, [...new Set([...Object.keys(a), ...Object.keys(b)])]);
      if (Object.keys(sub).length) out[k] = sub;
    } else {
      out[k] = clean(b);
    }
  }
  return out;
}

/** A value with its empty parts left out, for creating records. */
export function clean(v: any): any {
  if (Array.isArray(v)) return v.filter((x) => !empty(x)).map(clean);
  if (v && typeof v === 'object') {
    const o: Record<string, any> = {};
    for (const [k, x] of Object.entries(v)) if (!empty(x)) o[k] = clean(x);
    return o;
  }
  return v;
}
