// A hash router (#/records/lead?filter=...): the server serves one index.html for the whole app, as
// PocketBase's admin does, and deep links survive a reload.

export interface Route {
  path: string;
  parts: string[];
  query: URLSearchParams;
}

function parse(): Route {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = h.split('?', 2);
  return { path, parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || '') };
}

export const route = $state<{ current: Route }>({ current: parse() });

window.addEventListener('hashchange', () => {
  route.current = parse();
});

/** Navigates to an app path such as "/records/lead". */
export function go(path: string, query?: Record<string, string>): void {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString() : '';
  location.hash = '#' + path + (q ? '?' + q : '');
}

/** Replaces the query of the current path without adding a history entry. */
export function setQuery(query: Record<string, string>): void {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString();
  const h = '#' + route.current.path + (q ? '?' + q : '');
  history.replaceState(null, '', h);
  route.current = parse();
}

export function href(path: string, query?: Record<string, string>): string {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString() : '';
  return '#' + path + (q ? '?' + q : '');
}
