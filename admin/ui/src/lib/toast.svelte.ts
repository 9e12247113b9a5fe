// Short confirmations ("Saved") announced to screen readers through a polite live region in the shell.
export const toasts = $state<{ list: { id: number; text: string; kind: 'ok' | 'error' }[] }>({ list: [] });
let next = 1;

export function toast(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const id = next++;
  toasts.list.push({ id, text, kind });
  setTimeout(() => {
    toasts.list = toasts.list.filter((x) => x.id !== id);
  }, 5000);
}
