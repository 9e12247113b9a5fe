// The one HTTP client of the app. It talks only to the public API (the same one integrations use), sends
// the session cookie with the CSRF header on changes, and turns every failure into a Problem: RFC 9457
// problem details from the server, or a network error the page can offer to retry.

/** One invalid part of a request, as the API reports it. */
export interface FieldError {
  pointer?: string;
  parameter?: string;
  element?: string;
  message: string;
}

/** A failed API call: the server's problem details, or a network failure (status 0). */
export class Problem extends Error {
  status: number;
  type: string;
  title: string;
  detail: string;
  errors: FieldError[];
  requestId: string;
  /** The response headers (ETag, Retry-After...), when there was a response. */
  headers?: Headers;

  constructor(status: number, body: Partial<Problem> & { detail?: string }, headers?: Headers) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.type = body.type || '';
    this.title = body.title || '';
    this.detail = body.detail || body.title || `HTTP ${status}`;
    this.errors = body.errors || [];
    this.requestId = body.requestId || '';
    this.headers = headers;
  }

  /** The problem's stable slug, e.g. "invalid-credentials" from https://rapport.dev/problems/invalid-credentials. */
  get slug(): string {
    return this.type.split('/').pop() || '';
  }

  get network(): boolean {
    return this.status === 0;
  }
}

/** Turns anything thrown into a Problem, so pages handle one shape. */
export function asProblem(e: unknown): Problem {
  if (e instanceof Problem) return e;
  return new Problem(0, { detail: e instanceof Error ? e.message : String(e) });
}

export interface Reply<T> {
  data: T;
  status: number;
  etag: string;
  location: string;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  /** A raw body (FormData, text) sent as is. */
  raw?: BodyInit;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Return the body as text instead of parsing JSON. */
  text?: boolean;
  contentType?: string;
  signal?: AbortSignal;
}

const listeners = new Set<() => void>();

/** Registers a callback for 401 answers: the session ended, the shell shows the sign-in page. */
export function onUnauthenticated(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The CSRF token the server set as a readable cookie at sign-in (double submit). */
export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)rapport_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

/** Encodes one path segment, leaving ":" and "@" as they are (RFC 3986 allows them there): instance and
 * task IDs hold colons, and the server matches path parameters without decoding them. */
export function segment(s: string): string {
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** Builds an API URL with a query string, leaving out empty parameters. */
export function url(path: string, query?: CallOptions['query']): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Calls the API and returns the parsed answer, or throws a Problem. */
export async function call<T = unknown>(method: string, path: string, o: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...(o.headers || {}) };
  let body: BodyInit | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['Content-Type'] = o.contentType || 'application/json';
  } else if (o.contentType) {
    headers['Content-Type'] = o.contentType;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = csrfToken();
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(url(path, o.query), { method, headers, body, credentials: 'same-origin', signal: o.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new Problem(0, { detail: 'network error: the server did not answer' });
  }
  if (!res.ok) {
    let parsed: Partial<Problem> = {};
    const text = await res.text();
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text || res.statusText };
    }
    const p = new Problem(res.status, parsed, res.headers);
    if (res.status === 401 && !path.endsWith('/auth/login')) listeners.forEach((fn) => fn());
    throw p;
  }
  let data: unknown = undefined;
  if (res.status !== 204) {
    const text = await res.text();
    if (o.text) data = text;
    else if (text) data = JSON.parse(text);
  }
  return {
    data: data as T,
    status: res.status,
    etag: res.headers.get('ETag') || '',
    location: res.headers.get('Location') || '',
    headers: res.headers,
  };
}

export const get = <T>(path: string, query?: CallOptions['query']) => call<T>('GET', path, { query }).then((r) => r.data);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, { body }).then((r) => r.data);
export const put = <T>(path: string, body?: unknown) => call<T>('PUT', path, { body }).then((r) => r.data);
export const del = (path: string) => call('DELETE', path).then(() => undefined);

/** Maps JSON pointers of field errors to dotted paths ("/budget/amount" → "budget.amount"). */
export function fieldErrors(p: Problem | null | undefined, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (!p) return out;
  for (const e of p.errors) {
    if (e.pointer === undefined) continue;
    let path = e.pointer
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .join('.');
    if (prefix) {
      if (!path.startsWith(prefix)) continue;
      path = path.slice(prefix.length).replace(/^\./, '');
    }
    out[path] = out[path] ? `${out[path]}; ${e.message}` : e.message;
  }
  return out;
}
