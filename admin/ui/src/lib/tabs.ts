// Keyboard for a tab list (WAI-ARIA tabs): arrow keys, Home and End move to a tab and select it; only the
// selected tab is in the Tab order.

/** A Svelte action for an element with role="tablist" holding role="tab" buttons. */
export function tablist(node: HTMLElement) {
  const keydown = (e: KeyboardEvent) => {
    const tabs = [...node.querySelectorAll<HTMLButtonElement>('[role=tab]')];
    const i = tabs.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    tab.focus();
    tab.click();
  };
  node.addEventListener('keydown', keydown);
  return { destroy: () => node.removeEventListener('keydown', keydown) };
}
