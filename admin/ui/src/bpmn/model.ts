// Reading and changing the business objects behind diagram elements: extension elements (zeebe: and
// rapport:), io mappings, headers. Every change is a list of commands executed as one undoable step.
/* eslint-disable @typescript-eslint/no-explicit-any */

export type BO = any;
export type Element = any;

/** A command for properties-panel.multi-command-executor. */
export interface Cmd {
  cmd: string;
  context: Record<string, unknown>;
}

/** The business object of a diagram element (or the object itself). */
export function bo(element: Element): BO {
  return element?.businessObject || element;
}

export function is(x: BO, type: string): boolean {
  return !!x && typeof x.$instanceOf === 'function' && x.$instanceOf(type);
}

/** The process a diagram element belongs to (a participant's process, or the root). */
export function processOf(element: Element): BO {
  let x = bo(element);
  if (is(x, 'bpmn:Participant')) return x.processRef;
  while (x && !is(x, 'bpmn:Process')) x = x.$parent;
  return x;
}

/** The definitions element holding a business object. */
export function definitionsOf(x: BO): BO {
  while (x && !is(x, 'bpmn:Definitions')) x = x.$parent;
  return x;
}

export function extensions(x: BO, type: string): BO[] {
  return (x?.extensionElements?.values || []).filter((v: BO) => is(v, type));
}

export function extension(x: BO, type: string): BO | undefined {
  return extensions(x, type)[0];
}

/** Executes commands as one step on the command stack. */
export function run(commandStack: any, cmds: Cmd[]): void {
  if (cmds.length === 1) commandStack.execute(cmds[0].cmd, cmds[0].context);
  else if (cmds.length) commandStack.execute('properties-panel.multi-command-executor', cmds);
}

export function update(element: Element, moddleElement: BO, properties: Record<string, unknown>): Cmd {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

/**
 * Returns the extension element of type on x, creating it (and extensionElements) when missing, plus the
 * commands that attach a created one. Attach commands must run before changes to the returned object.
 */
export function ensureExtension(element: Element, x: BO, type: string, factory: any, props: Record<string, unknown> = {}): { ext: BO; cmds: Cmd[] } {
  const found = extension(x, type);
  if (found) return { ext: found, cmds: [] };
  const cmds: Cmd[] = [];
  let container = x.extensionElements;
  if (!container) {
    container = factory.create('bpmn:ExtensionElements', { values: [] });
    container.$parent = x;
    cmds.push(update(element, x, { extensionElements: container }));
  }
  const ext = factory.create(type, props);
  ext.$parent = container;
  cmds.push(update(element, container, { values: [...(container.get('values') || []), ext] }));
  return { ext, cmds };
}

/** Removes the extension elements of a type from x. */
export function removeExtension(element: Element, x: BO, type: string): Cmd[] {
  const container = x.extensionElements;
  if (!container) return [];
  const values = container.get('values') || [];
  const rest = values.filter((v: BO) => !is(v, type));
  return rest.length === values.length ? [] : [update(element, container, { values: rest })];
}

/** Sets one attribute of an extension element, creating the element when needed; "" removes the attribute. */
export function setExtensionAttr(element: Element, x: BO, type: string, attr: string, value: unknown, factory: any): Cmd[] {
  const { ext, cmds } = ensureExtension(element, x, type, factory);
  return [...cmds, update(element, ext, { [attr]: value === '' ? undefined : value })];
}

// Io mappings (zeebe:ioMapping with zeebe:input / zeebe:output).

export function inputs(x: BO): BO[] {
  return extension(x, 'zeebe:IoMapping')?.get('inputParameters') || [];
}

export function outputs(x: BO): BO[] {
  return extension(x, 'zeebe:IoMapping')?.get('outputParameters') || [];
}

export function inputNamed(x: BO, target: string): BO | undefined {
  return inputs(x).find((p: BO) => p.target === target);
}

/** Sets the source of the input with the target, adding or (for "") removing the input. */
export function setInput(element: Element, x: BO, target: string, source: string, factory: any): Cmd[] {
  const existing = inputNamed(x, target);
  if (existing && source === '') {
    const io = existing.$parent;
    return [update(element, io, { inputParameters: io.get('inputParameters').filter((p: BO) => p !== existing) })];
  }
  if (existing) return [update(element, existing, { source })];
  if (source === '') return [];
  return addMapping(element, x, 'input', { source, target }, factory).cmds;
}

/** Adds an input or output mapping. */
export function addMapping(element: Element, x: BO, kind: 'input' | 'output', props: { source?: string; target?: string }, factory: any): { mapping: BO; cmds: Cmd[] } {
  const { ext: io, cmds } = ensureExtension(element, x, 'zeebe:IoMapping', factory);
  const type = kind === 'input' ? 'zeebe:Input' : 'zeebe:Output';
  const list = kind === 'input' ? 'inputParameters' : 'outputParameters';
  const mapping = factory.create(type, props);
  mapping.$parent = io;
  cmds.push(update(element, io, { [list]: [...(io.get(list) || []), mapping] }));
  return { mapping, cmds };
}

export function removeMapping(element: Element, mapping: BO): Cmd[] {
  const io = mapping.$parent;
  const list = is(mapping, 'zeebe:Input') ? 'inputParameters' : 'outputParameters';
  return [update(element, io, { [list]: io.get(list).filter((p: BO) => p !== mapping) })];
}

// Task headers (zeebe:taskHeaders with zeebe:header).

export function headers(x: BO): BO[] {
  return extension(x, 'zeebe:TaskHeaders')?.get('values') || [];
}

export function header(x: BO, key: string): string {
  return headers(x).find((h: BO) => h.key === key)?.value || '';
}

/** Sets a header, adding or (for "") removing it. */
export function setHeader(element: Element, x: BO, key: string, value: string, factory: any): Cmd[] {
  const existing = headers(x).find((h: BO) => h.key === key);
  if (existing && value === '') {
    const th = existing.$parent;
    return [update(element, th, { values: th.get('values').filter((h: BO) => h !== existing) })];
  }
  if (existing) return [update(element, existing, { value })];
  if (value === '') return [];
  const { ext: th, cmds } = ensureExtension(element, x, 'zeebe:TaskHeaders', factory);
  const h = factory.create('zeebe:Header', { key, value });
  h.$parent = th;
  return [...cmds, update(element, th, { values: [...(th.get('values') || []), h] })];
}

/** An expression attribute without FEEL's leading "=" for the editor. */
export function exprText(v: string | undefined): string {
  return (v || '').replace(/^\s*=\s?/, '');
}

/** The attribute value for an expression typed in the editor ("" stays empty). */
export function exprValue(v: string): string {
  return v.trim() === '' ? '' : '=' + v;
}

/** The body of a formal expression (conditions, timers). */
export function formalBody(x: BO | undefined): string {
  return x?.body || '';
}
