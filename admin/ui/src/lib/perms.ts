// Permission matching as the server does it (engine/access.Match): "*" covers everything, and a "*"
// segment covers any one segment, so records.*.read covers records.lead.read. The app uses it only to
// decide what to show; the server decides what is allowed.

export function match(grant: string, perm: string): boolean {
  if (grant === '*' || grant === perm) return true;
  const g = grant.split('.');
  const p = perm.split('.');
  if (g.length !== p.length) return false;
  return g.every((s, i) => s === '*' || s === p[i]);
}

export function granted(grants: string[], perm: string): boolean {
  if (perm === 'authenticated') return true;
  return grants.some((g) => match(g, perm));
}
