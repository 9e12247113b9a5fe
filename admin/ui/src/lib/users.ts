// Names of users for "changed by" lines. The API lets only user managers read other users, so others see
// "you" for themselves and the user ID for everyone else.
import { get, segment } from './api';
import { session, can } from './state.svelte';

const cache = new Map<string, Promise<string>>();

export function userName(id: string | undefined, you: string): Promise<string> {
  if (!id) return Promise.resolve('');
  if (id === session.me?.id) return Promise.resolve(you);
  if (!can('users.manage')) return Promise.resolve(id);
  let p = cache.get(id);
  if (!p) {
    p = get<{ name: string; email: string }>(`/api/v1/users/${segment(id)}`)
      .then((u) => u.name || u.email)
      .catch(() => id);
    cache.set(id, p);
  }
  return p;
}
