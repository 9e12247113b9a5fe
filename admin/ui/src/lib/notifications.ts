// In-app notifications as processes send them (a template name and its data), made readable.
import { href } from './router.svelte';

export interface Notification {
  id: string;
  to: string;
  template: string;
  data?: Record<string, any>;
  source?: string;
  createdAt: string;
  readAt?: string;
}

/** A title, an optional detail line and a link to the record the notification is about. */
export function describe(n: Notification, _lang: string): { title: string; detail: string; link: string } {
  const d = n.data || {};
  const words = n.template.replace(/[-_.]/g, ' ');
  const title = String(d.title || d.subject || d.message || words.charAt(0).toUpperCase() + words.slice(1));
  const entity = d.entity || d.relatedEntity;
  const id = d.recordId || d.relatedId || d.id;
  const link = entity && id ? href(`/records/${entity}/${id}`) : '';
  const detail = Object.entries(d)
    .filter(([k, v]) => !['title', 'subject', 'message', 'entity', 'relatedEntity', 'recordId', 'relatedId', 'id'].includes(k) && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return { title, detail, link };
}
