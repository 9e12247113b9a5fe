// What the designer's modeler and the monitor's viewer share: the moddle extensions (zeebe: and
// rapport:), the BPMN symbol font, the diagram's styles, and markers and badges on elements.
/* eslint-disable @typescript-eslint/no-explicit-any */
import zeebe from 'zeebe-bpmn-moddle/resources/zeebe.json';
import rapport from './rapport.json';
import fontUrl from 'bpmn-js/dist/assets/bpmn-font/font/bpmn.woff2?url';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-codes.css';
import './diagram.css';
import { translate } from './words';

/** The moddle extensions every diagram is read with, so zeebe: and rapport: settings are typed. */
export const moddleExtensions = { zeebe, rapport };

/** The translate service in the user's language. */
export const translateModule = { translate: ['value', translate] };

let fontLoaded = false;

/** Loads the BPMN symbol font (palette and context pad icons) once, from the app's own files. */
export function loadFont(): void {
  if (fontLoaded || typeof FontFace === 'undefined') return;
  fontLoaded = true;
  const face = new FontFace('bpmn', `url(${fontUrl}) format('woff2')`);
  face.load().then((f) => document.fonts.add(f)).catch(() => (fontLoaded = false));
}

/** Gives the diagram's focusable drawing an accessible name. */
export function labelCanvas(container: HTMLElement, label: string): void {
  const svg = container.querySelector('svg[tabindex]');
  if (svg) {
    svg.setAttribute('role', 'application');
    svg.setAttribute('aria-label', label);
    svg.setAttribute('aria-roledescription', 'BPMN diagram');
  }
}

/** Markers (CSS classes) and badges placed on elements, removed together. */
export class Decorations {
  private markers: [string, string][] = [];
  private overlayType: string;

  constructor(private viewer: any, type: string) {
    this.overlayType = type;
  }

  private get registry() {
    return this.viewer.get('elementRegistry');
  }

  has(id: string): boolean {
    return !!this.registry.get(id);
  }

  mark(id: string, cls: string): void {
    if (!this.has(id)) return;
    this.viewer.get('canvas').addMarker(id, cls);
    this.markers.push([id, cls]);
  }

  /** A badge at an element's corner: text, a class, a title read on hover. */
  badge(id: string, text: string, cls: string, title = '', position: Record<string, number> = { top: -12, right: 12 }): void {
    if (!this.has(id)) return;
    const el = document.createElement('span');
    el.className = 'rp-badge ' + cls;
    el.textContent = text;
    if (title) el.title = title;
    this.viewer.get('overlays').add(id, this.overlayType, { position, html: el });
  }

  clear(): void {
    const canvas = this.viewer.get('canvas');
    for (const [id, cls] of this.markers) if (this.has(id)) canvas.removeMarker(id, cls);
    this.markers = [];
    this.viewer.get('overlays').remove({ type: this.overlayType });
  }
}

/** Moves the view to an element and selects it when the diagram can select. */
export function focusElement(viewer: any, id: string): boolean {
  const el = viewer.get('elementRegistry').get(id);
  if (!el) return false;
  try {
    viewer.get('canvas').scrollToElement(el, { top: 80, bottom: 80, left: 80, right: 80 });
  } catch {
    // Older diagrams without a size: nothing to scroll.
  }
  try {
    viewer.get('selection').select(el);
  } catch {
    // A viewer without selection.
  }
  return true;
}
