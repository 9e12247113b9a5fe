// One report of a dashboard: its figures, the problem that replaced them, and whether a newer request is
// on its way. Only the answer to the latest request is kept, so quick filter changes never show figures
// of an earlier filter.
import { get, url, asProblem, type Problem } from '../../lib/api';
import { route } from '../../lib/router.svelte';

export type Query = Record<string, string | number | undefined>;

export class Report<T> {
  data = $state.raw<T | null>(null);
  problem = $state.raw<Problem | null>(null);
  loading = $state(false);
  /** The address of the latest request's CSV twin, for the export link. */
  csv = $state('');
  #seq = 0;
  #again: () => void = () => undefined;

  /** Fetches the report; a failure replaces the figures with the problem (a 403 names the hidden field).
   * csvQuery is the export's query where it differs from the one shown (without a limit on the rows). */
  async load(path: string, query: Query, csvQuery: Query = query): Promise<void> {
    this.csv = csvHref(path, csvQuery);
    this.#again = () => this.load(path, query, csvQuery);
    const mine = ++this.#seq;
    this.loading = true;
    try {
      const d = await get<T>(path, query);
      if (mine !== this.#seq) return;
      this.data = d;
      this.problem = null;
    } catch (e) {
      if (mine !== this.#seq) return;
      this.data = null;
      this.problem = asProblem(e);
    } finally {
      if (mine === this.#seq) this.loading = false;
    }
  }

  /** Fetches the latest request again (the retry button of a failed report). */
  retry = (): void => this.#again();
}

/** The address of a report's CSV twin: the same path with /csv, the same parameters. */
export function csvHref(path: string, query: Query): string {
  return url(path + '/csv', query);
}

/** A dashboard's filters: `query` as the address holds them (what the reports show), `values` as the
 * filter form edits them, reset to the address whenever it changes; `load` (the reports) runs then too.
 * Create it while the dashboard initialises: it starts an effect that lives as long as the dashboard. */
export class Filtered {
  #keys: string[];
  #defaults: Record<string, string>;
  query = $derived.by(() => readFilters(this.#keys, this.#defaults));
  values = $state<Record<string, string>>({});

  constructor(keys: string[], defaults: Record<string, string>, load: () => void) {
    this.#keys = keys;
    this.#defaults = defaults;
    $effect(() => {
      this.values = { ...this.query };
      load();
    });
  }
}

/** The dashboard's filters as the address holds them, with defaults for those it lacks. */
export function readFilters(keys: string[], defaults: Record<string, string> = {}): Record<string, string> {
  const q = route.current.query;
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = q.get(k) ?? defaults[k] ?? '';
  return out;
}
