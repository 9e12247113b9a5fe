// In-app notifications as processes send them: the rendered subject and body when there are, else the
// template name and its data made readable.
import { href } from './router.svelte';

export interface Notification {
  id: string;
  to: string;
  template: string;
  /** The template's text rendered for the recipient; older notifications have none. */
  subject?: string;
  body?: string;
  data?: Record<string, any>;
  source?: string;
  createdAt: string;
  readAt?: string;
}

/** A title, an optional detail line and a link to the record the notification is about. */
export function describe(n: Notification, _lang: string): { title: string; detail: string; link: string } {
  const d = n.data || {};
  const words = n.template.replace(/[-_.]/g, ' ');
  const title = String(n.subject || d.title || d.subject || d.message || words.charAt(0).toUpperCase() + words.slice(1));
  const entity = d.entity || d.relatedEntity;
  const id = d.recordId || d.relatedId || d.id;
  const link = entity && id ? href(`/records/${entity}/${id}`) : '';
  const detail = Object.entries(d)
    .filter(([k, v]) => !['title', 'subject', 'message', 'entity', 'relatedEntity', 'recordId', 'relatedId', 'id'].includes(k) && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  if (n.body) {
    // The rendered text, without the line that only repeats the link.
    const text = n.body.split('\n').filter((l) => !/^https?:\/\/\S+$/.test(l.trim())).join(' ').trim();
    return { title, detail: text, link };
  }
  return { title, detail, link };
}
