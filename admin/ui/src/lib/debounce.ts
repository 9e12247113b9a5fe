// Checking a draft as the author types: run the check once they pause, and drop answers to checks that
// a newer one has overtaken, so a slow answer never overwrites a fresh one.

export interface Debounced {
  schedule(): void;
  cancel(): void;
}

export function debounced<T>(delay: number, run: () => Promise<T>, apply: (r: T) => void, fail: (e: unknown) => void): Debounced {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  const go = async () => {
    const mine = ++seq;
    try {
      const r = await run();
      if (mine === seq) apply(r);
    } catch (e) {
      if (mine === seq) fail(e);
    }
  };
  return {
    schedule() {
      clearTimeout(timer);
      timer = setTimeout(go, delay);
    },
    cancel() {
      clearTimeout(timer);
      seq++;
    },
  };
}
