// Rapport's part of the properties panel (bpmn-js-properties-panel): groups for what Rapport runs, written
// as zeebe: and rapport: extension elements (engine/bpmn reads both). A service task's headers and inputs
// are generated from its task type's self-description; rule sets, connectors and their operations,
// calendars, entities and processes are pickers fed from the API; conditions, mappings, due dates and
// correlation keys use the app's expression editor with completion of the declared variables and the
// trigger entity's fields, and show the validator's problems at their line and column.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useRef } from '@bpmn-io/properties-panel/preact/hooks';
import { TextFieldEntry, SelectEntry, CheckboxEntry, ListGroup, Group } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { createExprEditor, type ExprEditor, type ExprProblem, type Var } from '../editor/expr';
import type { Entity } from '../lib/schema';
import { t } from '../lib/i18n';
import {
  bo, is, extension, extensions, ensureExtension, removeExtension, setExtensionAttr, run, update, header, headers, setHeader,
  inputs, inputNamed, setInput, outputs, addMapping, removeMapping, exprText, exprValue, formalBody, processOf, type BO, type Cmd, type Element,
} from './model';
import { varsAt, declared } from './vars';
import { rulesetResult, type Param, type Shape, type TaskTypeInfo } from './tasktypes';

/** A connector operation a plugin describes, with the JSON Schemas of its input and output. */
export interface Operation {
  name: string;
  description?: string;
  input?: any;
  output?: any;
}

/** What the panel's pickers and editors read; the page fills it from the API and re-renders the panel. */
export interface PanelData {
  taskTypes: TaskTypeInfo[];
  rulesets: { key: string; kind: string; entity: string; latestVersion: number }[];
  calendars: string[];
  connectors: { name: string; plugin: string }[];
  processes: { key: string; name: string }[];
  entities: { name: string; label: string }[];
  entity: (name: string) => Entity | undefined;
  /** The operations of the plugin behind a connector (cached; [] until loaded, then the panel re-renders). */
  operations: (connector: string) => Operation[];
  /** The validator's problems, element by element. */
  problems: { elementId: string; reason: string }[];
  lang: string;
}

export const VARIABLE_TYPES = ['string', 'int', 'float', 'bool', 'time', 'duration', 'list', 'object', 'any'];

/** Problems of an expression at its line and column, read from the validator's reasons for the element. */
export function exprProblems(problems: PanelData['problems'], elementId: string, source: string): ExprProblem[] {
  const src = exprText(source).trim();
  if (!src) return [];
  const out: ExprProblem[] = [];
  for (const p of problems) {
    if (p.elementId !== elementId) continue;
    const at = p.reason.indexOf(JSON.stringify(src) + ' does not compile: ');
    if (at < 0) continue;
    const rest = p.reason.slice(at + JSON.stringify(src).length + ' does not compile: '.length);
    const re = /(\d+):(\d+): ([^;]+)/g;
    let m: RegExpExecArray | null;
    let found = false;
    while ((m = re.exec(rest))) {
      out.push({ line: +m[1], column: +m[2], message: m[3].trim() });
      found = true;
    }
    if (!found) out.push({ line: 1, column: 1, message: rest });
  }
  return out;
}

// Entries ////////////////////////////////////////////////////////////////////////////////////////////

/** An expression in the app's CodeMirror editor (completion, problems underlined). */
function ExprEntry(props: any) {
  const { element, id, label, description, getValue, setValue, vars, problems } = props;
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<ExprEditor | null>(null);
  const setter = useRef(setValue);
  setter.current = setValue;
  const value: string = getValue() || '';
  useEffect(() => {
    if (!host.current) return;
    editor.current = createExprEditor(host.current, { doc: value, vars: vars || [], label, onChange: (doc) => setter.current(doc) });
    return () => {
      editor.current?.destroy();
      editor.current = null;
    };
  }, [element, id]);
  useEffect(() => editor.current?.setDoc(value), [value]);
  useEffect(() => editor.current?.setVars(vars || []));
  const shown: ExprProblem[] = problems || [];
  useEffect(() => editor.current?.setProblems(shown), [JSON.stringify(shown)]);
  return h('div', { class: 'bio-properties-panel-entry rp-expr-entry', 'data-entry-id': id }, [
    h('div', { class: 'bio-properties-panel-label', id: `rp-${id}-label` }, label),
    h('div', { class: 'expr' + (shown.length ? ' invalid' : ''), 'data-expr': id, ref: host }),
    shown.length ? h('div', { class: 'bio-properties-panel-error' }, shown.map((p) => `${p.line}:${p.column}: ${p.message}`).join('; ')) : null,
    description ? h('div', { class: 'bio-properties-panel-description' }, description) : null,
  ]);
}

function TextEntry(props: any) {
  const debounce = useService('debounceInput');
  return TextFieldEntry({ element: props.element, id: props.id, label: props.label, description: props.description, debounce,
    getValue: () => props.getValue() || '', setValue: (v: string) => props.setValue((v || '').trim() === '' ? '' : v) });
}

function ChoiceEntry(props: any) {
  return SelectEntry({ element: props.element, id: props.id, label: props.label, description: props.description,
    getValue: () => props.getValue() || '', setValue: (v: string) => props.setValue(v), getOptions: () => props.options });
}

function FlagEntry(props: any) {
  return CheckboxEntry({ element: props.element, id: props.id, label: props.label, description: props.description,
    getValue: () => !!props.getValue(), setValue: (v: boolean) => props.setValue(v) });
}

type Get = () => any;
type Set = (v: any) => void;

const textEntry = (id: string, label: string, getValue: Get, setValue: Set, description?: string) => ({ id, component: TextEntry, label, getValue, setValue, description });
const choiceEntry = (id: string, label: string, options: { value: string; label: string }[], getValue: Get, setValue: Set, description?: string) =>
  ({ id, component: ChoiceEntry, label, options, getValue, setValue, description });
const flagEntry = (id: string, label: string, getValue: Get, setValue: Set, description?: string) => ({ id, component: FlagEntry, label, getValue, setValue, description });

/** Options with the current value kept even when the list does not know it. */
function options(list: { value: string; label: string }[], current: string, none = true): { value: string; label: string }[] {
  const out = none ? [{ value: '', label: t('(none)') }, ...list] : [...list];
  if (current && !out.some((o) => o.value === current)) out.push({ value: current, label: current });
  return out;
}

// The provider ///////////////////////////////////////////////////////////////////////////////////////

/** Base groups that edit what Rapport does not run, or that Rapport's groups replace. */
const REPLACED = ['timer', 'multiInstance', 'signal', 'escalation', 'compensation', 'adHocCompletion', 'CamundaPlatform__Condition'];

/** JSON Schema → the shape of a value, for `result` completion. */
function schemaShape(s: any): Shape | null {
  if (!s || typeof s !== 'object') return null;
  const type = Array.isArray(s.type) ? s.type.find((x: string) => x !== 'null') : s.type;
  switch (type) {
    case 'object':
      return { kind: 'object', fields: Object.fromEntries(Object.entries(s.properties || {}).map(([k, v]) => [k, schemaShape(v)])) };
    case 'array':
      return { kind: 'list', elem: schemaShape(s.items) };
    case 'integer':
      return { kind: 'int' };
    case 'number':
      return { kind: 'float' };
    case 'boolean':
      return { kind: 'bool' };
    case 'string':
      return { kind: s.format === 'date-time' ? 'time' : 'string' };
  }
  return { kind: 'any' };
}

export class RapportPropertiesProvider {
  static $inject = ['propertiesPanel', 'injector', 'rapportData'];
  private injector: any;
  private data: PanelData;

  constructor(propertiesPanel: any, injector: any, data: PanelData) {
    this.injector = injector;
    this.data = data;
    propertiesPanel.registerProvider(500, this);
  }

  private get stack() {
    return this.injector.get('commandStack');
  }

  private get factory() {
    return this.injector.get('bpmnFactory');
  }

  private exec(cmds: Cmd[]) {
    run(this.stack, cmds);
  }

  getGroups(element: Element) {
    return (groups: any[]) => {
      const kept = groups.filter((g) => !REPLACED.includes(g.id));
      const ours = this.groupsOf(element).filter(Boolean);
      const at = kept.findIndex((g) => g.id === 'general') + 1;
      return [...kept.slice(0, at), ...ours, ...kept.slice(at)];
    };
  }

  private vars(element: Element, withResult = false, result: Shape | null = null): Var[] {
    return varsAt(element, { entity: this.data.entity, lang: this.data.lang, withResult, result });
  }

  private expr(element: Element, id: string, label: string, getValue: Get, setValue: Set, o: { description?: string; withResult?: boolean; result?: Shape | null } = {}) {
    const raw = getValue() || '';
    return {
      id, component: ExprEntry, label, description: o.description,
      getValue: () => exprText(getValue()), setValue: (v: string) => setValue(exprValue(v)),
      vars: this.vars(element, o.withResult, o.result), problems: exprProblems(this.data.problems, bo(element).id, raw),
    };
  }

  private groupsOf(element: Element): any[] {
    const x = bo(element);
    const out: any[] = [];
    if (is(x, 'bpmn:Process') || (is(x, 'bpmn:Participant') && x.processRef)) out.push(this.variablesGroup(element));
    if (is(x, 'bpmn:StartEvent') && !(x.eventDefinitions || []).length && is(x.$parent, 'bpmn:Process')) out.push(this.triggerGroup(element));
    const timer = (x.eventDefinitions || []).find((d: BO) => is(d, 'bpmn:TimerEventDefinition'));
    if (timer) out.push(this.timerGroup(element, timer));
    const message = this.messageOf(x);
    if (message && !is(x, 'bpmn:StartEvent')) out.push(this.correlationGroup(element, message));
    if (is(x, 'bpmn:ServiceTask')) out.push(...this.serviceTaskGroups(element));
    if (is(x, 'bpmn:BusinessRuleTask')) out.push(this.rulesetGroup(element));
    if (is(x, 'bpmn:UserTask')) out.push(this.assignmentGroup(element), this.formGroup(element));
    if (is(x, 'bpmn:ScriptTask')) out.push(this.scriptGroup(element));
    if (is(x, 'bpmn:CallActivity')) out.push(this.callGroup(element));
    if (is(x, 'bpmn:SequenceFlow') && (is(x.sourceRef, 'bpmn:ExclusiveGateway') || is(x.sourceRef, 'bpmn:InclusiveGateway'))) out.push(this.conditionGroup(element));
    if (is(x.loopCharacteristics, 'bpmn:MultiInstanceLoopCharacteristics')) out.push(this.loopGroup(element));
    if (is(x, 'bpmn:Activity') && !is(x, 'bpmn:ServiceTask') && !is(x, 'bpmn:ScriptTask')) out.push(this.freeInputsGroup(element, 'rapport-inputs', t('Input mappings'), []));
    if (is(x, 'bpmn:Activity') || is(x, 'bpmn:CatchEvent')) out.push(this.outputsGroup(element));
    return out;
  }

  // Process variables.
  private variablesGroup(element: Element) {
    const process = processOf(element);
    const vars = extension(process, 'rapport:Variables')?.get('values') || [];
    const items = vars.map((v: BO, i: number) => ({
      id: `rapport-var-${i}`,
      label: v.name ? `${v.name}: ${v.type || 'any'}${v.required ? ' *' : ''}` : t('(new variable)'),
      remove: () => {
        const c = v.$parent;
        this.exec([update(element, c, { values: c.get('values').filter((y: BO) => y !== v) })]);
      },
      entries: [
        textEntry(`rapport-var-${i}-name`, t('Name'), () => v.name, (s) => this.exec([update(element, v, { name: s })])),
        choiceEntry(`rapport-var-${i}-type`, t('Type'), VARIABLE_TYPES.map((x) => ({ value: x, label: x })), () => v.type || 'any', (s) => this.exec([update(element, v, { type: s })])),
        flagEntry(`rapport-var-${i}-required`, t('Required at start'), () => v.required, (b) => this.exec([update(element, v, { required: b || undefined })])),
        textEntry(`rapport-var-${i}-default`, t('Default (an expression)'), () => v.default, (s) => this.exec([update(element, v, { default: s || undefined })])),
      ],
    }));
    return {
      id: 'rapport-variables', label: t('Variables'), component: ListGroup, items, shouldOpen: true,
      add: () => {
        const { ext, cmds } = ensureExtension(element, process, 'rapport:Variables', this.factory);
        const v = this.factory.create('rapport:Variable', { name: `var${vars.length + 1}`, type: 'string' });
        v.$parent = ext;
        this.exec([...cmds, update(element, ext, { values: [...(ext.get('values') || []), v] })]);
      },
    };
  }

  // Record triggers on none start events.
  private triggerGroup(element: Element) {
    const x = bo(element);
    const trig = extension(x, 'rapport:RecordTrigger');
    const entries: any[] = [
      choiceEntry('rapport-trigger-entity', t('Start when a record of'), options(this.data.entities.map((e) => ({ value: e.name, label: e.label })), trig?.entity || ''),
        () => trig?.entity || '',
        (v) => this.exec(!v ? removeExtension(element, x, 'rapport:RecordTrigger')
          : trig ? [update(element, trig, { entity: v })] : ensureExtension(element, x, 'rapport:RecordTrigger', this.factory, { entity: v, on: 'created' }).cmds),
        t('Empty: the process is started by hand or through the API.')),
    ];
    if (trig) {
      entries.push(
        choiceEntry('rapport-trigger-on', t('is'), [{ value: 'created', label: t('created') }, { value: 'updated', label: t('updated') }],
          () => trig.on || '', (v) => this.exec([update(element, trig, { on: v })])),
        this.expr(element, 'rapport-trigger-condition', t('Only when (condition over record)'), () => trig.condition, (v) => this.exec([update(element, trig, { condition: v || undefined })])),
      );
    }
    return { id: 'rapport-trigger', label: t('Record trigger'), component: Group, entries, shouldOpen: true };
  }

  // Timers: duration, date, cycle, or business hours on a calendar.
  private timerGroup(element: Element, def: BO) {
    const x = bo(element);
    const start = is(x, 'bpmn:StartEvent') && is(x.$parent, 'bpmn:Process');
    const nonInterrupting = is(x, 'bpmn:BoundaryEvent') && x.cancelActivity === false;
    const kinds = start ? ['date', 'cycle'] : nonInterrupting ? ['duration', 'date', 'cycle', 'business'] : ['duration', 'date', 'business'];
    const current = def.timeDuration ? 'duration' : def.timeCycle ? 'cycle' : def.timeDate ? 'date' : '';
    const body = formalBody(def.timeDuration || def.timeCycle || def.timeDate);
    const business = /^\s*=\s*addBusinessHours\(\s*now\s*,\s*([\d.]+)\s*,\s*"([^"]*)"\s*\)\s*$/.exec(current === 'date' ? body : '');
    const mode = business ? 'business' : current;
    const labels: Record<string, string> = { duration: t('After a duration'), date: t('At a date'), cycle: t('Repeatedly (cycle)'), business: t('After business hours') };
    const set = (kind: string, value: string) => {
      const prop = kind === 'business' ? 'timeDate' : kind === 'duration' ? 'timeDuration' : kind === 'cycle' ? 'timeCycle' : 'timeDate';
      const props: Record<string, unknown> = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (kind) {
        const expr = this.factory.create('bpmn:FormalExpression', { body: value });
        expr.$parent = def;
        props[prop] = expr;
      }
      this.exec([update(element, def, props)]);
    };
    const entries: any[] = [
      choiceEntry('rapport-timer-kind', t('Fires'), options(kinds.map((k) => ({ value: k, label: labels[k] })), mode),
        () => mode, (k) => set(k, k === 'business' ? `=addBusinessHours(now, 8, "${this.data.calendars[0] || 'office'}")` : k === 'duration' ? 'PT1H' : k === 'cycle' ? 'R/PT24H' : ''),
        t('Business hours count only the working time of a calendar.')),
    ];
    if (business) {
      const hours = business[1];
      const cal = business[2];
      const write = (hh: string, cc: string) => set('business', `=addBusinessHours(now, ${hh || '0'}, ${JSON.stringify(cc)})`);
      entries.push(
        textEntry('rapport-timer-hours', t('Business hours'), () => hours, (v) => write(String(v).replace(/[^\d.]/g, ''), cal)),
        choiceEntry('rapport-timer-calendar', t('Calendar'), options(this.data.calendars.map((c) => ({ value: c, label: c })), cal, false), () => cal, (v) => write(hours, v)),
      );
    } else if (mode) {
      const hint = { duration: t('ISO 8601, e.g. PT4H or P2D; or =expression'), date: t('RFC 3339 with zone, e.g. 2026-03-01T09:00:00+03:00; or =expression'), cycle: t('R/PT24H, R5/P1D or a cron line such as 0 8 * * 1-5') }[mode as 'duration'];
      entries.push(textEntry('rapport-timer-value', t('Value'), () => body, (v) => set(mode, v), hint));
    }
    return { id: 'rapport-timer', label: t('Timer'), component: Group, entries, shouldOpen: true };
  }

  private messageOf(x: BO): BO | undefined {
    if (is(x, 'bpmn:ReceiveTask')) return x.messageRef;
    const def = (x.eventDefinitions || []).find((d: BO) => is(d, 'bpmn:MessageEventDefinition'));
    return def?.messageRef;
  }

  // Message correlation keys (zeebe:subscription on the message).
  private correlationGroup(element: Element, message: BO) {
    const sub = extension(message, 'zeebe:Subscription');
    return {
      id: 'rapport-correlation', label: t('Message correlation'), component: Group, shouldOpen: true,
      entries: [
        this.expr(element, 'rapport-correlation-key', t('Correlation key of {what}', { what: message.name || message.id }), () => sub?.correlationKey,
          (v) => this.exec(setExtensionAttr(element, message, 'zeebe:Subscription', 'correlationKey', v, this.factory)),
          { description: t('The instance waits for a message whose correlation key equals this value (usually the business key).') }),
      ],
    };
  }

  // Service tasks: the type, then the headers and inputs its description declares.
  private typeOf(x: BO): string {
    return extension(x, 'zeebe:TaskDefinition')?.type || '';
  }

  private serviceTaskGroups(element: Element): any[] {
    const x = bo(element);
    const typeID = this.typeOf(x);
    const type = this.data.taskTypes.find((tt) => tt.id === typeID);
    const external = !!typeID && !type;
    const typeOptions = [{ value: '', label: t('(choose a task type)') }, ...this.data.taskTypes.map((tt) => ({ value: tt.id, label: `${tt.title} (${tt.id})` })),
      { value: '__external', label: t('Other: an external task type…') }];
    const typeEntries: any[] = [
      choiceEntry('rapport-task-type', t('Task type'), typeOptions, () => (external ? '__external' : typeID),
        (v) => this.exec(setExtensionAttr(element, x, 'zeebe:TaskDefinition', 'type', v === '__external' ? 'my-worker' : v, this.factory)), type?.doc),
    ];
    if (external) {
      typeEntries.push(textEntry('rapport-task-type-id', t('External task type'), () => typeID,
        (v) => this.exec(setExtensionAttr(element, x, 'zeebe:TaskDefinition', 'type', v, this.factory)),
        t('A worker outside Rapport fetches tasks of this type.')));
    }
    const groups: any[] = [{ id: 'rapport-task', label: t('Task type'), component: Group, entries: typeEntries, shouldOpen: true }];
    let result: Shape | null = type?.result || null;
    let opInputs: Param[] = [];
    if (type) {
      const headerEntries = (type.headers || []).map((p) => this.headerEntry(element, p));
      if (headerEntries.length) groups.push({ id: 'rapport-headers', label: t('Settings'), component: Group, entries: headerEntries, shouldOpen: true });
      if (type.id === 'connector') {
        const op = this.data.operations(header(x, 'connector')).find((o) => o.name === header(x, 'operation'));
        if (op) {
          result = schemaShape(op.output);
          const req: string[] = op.input?.required || [];
          opInputs = Object.entries(op.input?.properties || {}).map(([name, s]: [string, any]) => ({
            name, type: schemaShape(s)?.kind || 'any', required: req.includes(name), doc: s?.description || '',
          }));
        }
      }
      if (type.id === 'rules.evaluate') {
        const rs = this.data.rulesets.find((r) => r.key === header(x, 'ruleset'));
        if (rs) result = rulesetResult(rs.kind);
      }
    }
    const declaredInputs = [...(type?.inputs || []), ...opInputs];
    const free = external || !type || type.freeInputs;
    groups.push(this.freeInputsGroup(element, 'rapport-inputs', t('Inputs'), declaredInputs, free));
    groups.push(this.outputsGroup(element, result));
    groups.push(this.retryGroup(element));
    if (external || !type) groups.push(this.freeHeadersGroup(element, []));
    else {
      const known = (type.headers || []).map((p) => p.name);
      if (headers(x).some((hd: BO) => !known.includes(hd.key))) groups.push(this.freeHeadersGroup(element, known));
    }
    return groups;
  }

  /** One declared header: a picker when its name says what it holds, a list for an enum, else text. */
  private headerEntry(element: Element, p: Param) {
    const x = bo(element);
    const id = `rapport-header-${p.name}`;
    const label = p.name + (p.required ? ' *' : '');
    const get = () => header(x, p.name);
    const set = (v: string) => this.exec(setHeader(element, x, p.name, v || '', this.factory));
    const cur = get();
    switch (p.name) {
      case 'entity':
        return choiceEntry(id, label, options(this.data.entities.map((e) => ({ value: e.name, label: e.label })), cur), get, set, p.doc);
      case 'ruleset':
        return choiceEntry(id, label, options(this.data.rulesets.map((r) => ({ value: r.key, label: `${r.key} (${r.kind})` })), cur), get, set, p.doc);
      case 'connector':
        return choiceEntry(id, label, options(this.data.connectors.map((c) => ({ value: c.name, label: `${c.name} (${c.plugin})` })), cur), get, set, p.doc);
      case 'operation': {
        const ops = this.data.operations(header(x, 'connector'));
        if (ops.length) return choiceEntry(id, label, options(ops.map((o) => ({ value: o.name, label: o.description ? `${o.name}: ${o.description}` : o.name })), cur), get, set, p.doc);
        break;
      }
    }
    if (p.enum?.length) return choiceEntry(id, label, options(p.enum.map((v) => ({ value: v, label: v })), cur), get, set, p.doc);
    return textEntry(id, label, get, set, p.doc);
  }

  /** Headers no description declares (external tasks, leftovers): key and value. */
  private freeHeadersGroup(element: Element, known: string[]) {
    const x = bo(element);
    const list = headers(x).filter((hd: BO) => !known.includes(hd.key));
    return {
      id: 'rapport-free-headers', label: t('Headers'), component: ListGroup,
      items: list.map((hd: BO, i: number) => ({
        id: `rapport-fh-${i}`, label: hd.key || t('(new header)'),
        remove: () => this.exec([update(element, hd.$parent, { values: hd.$parent.get('values').filter((y: BO) => y !== hd) })]),
        entries: [
          textEntry(`rapport-fh-${i}-key`, t('Key'), () => hd.key, (v) => this.exec([update(element, hd, { key: v })])),
          textEntry(`rapport-fh-${i}-value`, t('Value'), () => hd.value, (v) => this.exec([update(element, hd, { value: v })])),
        ],
      })),
      add: () => this.exec(setHeader(element, x, `header${list.length + 1}`, 'value', this.factory)),
    };
  }

  /** Inputs: the declared ones as fixed expressions, the rest (when the type passes them on) as a list. */
  private freeInputsGroup(element: Element, id: string, label: string, declaredInputs: Param[], free = true) {
    const x = bo(element);
    const names = declaredInputs.map((p) => p.name);
    const fixed = declaredInputs.map((p) => ({
      id: `${id}-p-${p.name}`, label: p.name + (p.required ? ' *' : ''),
      entries: [this.expr(element, `${id}-p-${p.name}-source`, p.name + (p.required ? ' *' : ''), () => inputNamed(x, p.name)?.source,
        (v) => this.exec(setInput(element, x, p.name, v, this.factory)), { description: p.doc })],
    }));
    const rest = inputs(x).filter((m: BO) => !names.includes(m.target));
    const items = [
      ...fixed,
      ...rest.map((m: BO, i: number) => ({
        id: `${id}-${i}`, label: m.target || t('(new input)'),
        remove: () => this.exec(removeMapping(element, m)),
        entries: [
          textEntry(`${id}-${i}-target`, t('Name'), () => m.target, (v) => this.exec([update(element, m, { target: v })])),
          this.expr(element, `${id}-${i}-source`, t('Value of {what}', { what: m.target || '…' }), () => m.source, (v) => this.exec([update(element, m, { source: v || undefined })])),
        ],
      })),
    ];
    return {
      id, label, component: ListGroup, items, shouldOpen: declaredInputs.length > 0,
      add: free ? () => this.exec(addMapping(element, x, 'input', { target: `input${rest.length + 1}`, source: '' }, this.factory).cmds) : undefined,
    };
  }

  private outputsGroup(element: Element, result: Shape | null = null) {
    const x = bo(element);
    const list = outputs(x);
    return {
      id: 'rapport-outputs', label: t('Output mappings'), component: ListGroup,
      items: list.map((m: BO, i: number) => ({
        id: `rapport-out-${i}`, label: m.target || t('(new output)'),
        remove: () => this.exec(removeMapping(element, m)),
        entries: [
          textEntry(`rapport-out-${i}-target`, t('Variable'), () => m.target, (v) => this.exec([update(element, m, { target: v })])),
          this.expr(element, `rapport-out-${i}-source`, t('Value of {what}', { what: m.target || '…' }), () => m.source, (v) => this.exec([update(element, m, { source: v || undefined })]),
            { withResult: true, result, description: t('result is what the element returned.') }),
        ],
      })),
      add: () => this.exec(addMapping(element, x, 'output', { target: `output${list.length + 1}`, source: '=result' }, this.factory).cmds),
    };
  }

  private retryGroup(element: Element) {
    const x = bo(element);
    const rp = extension(x, 'rapport:RetryPolicy');
    const set = (attr: string) => (v: string) => this.exec(setExtensionAttr(element, x, 'rapport:RetryPolicy', attr, v, this.factory));
    return {
      id: 'rapport-retry', label: t('Retry policy'), component: Group,
      entries: [
        textEntry('rapport-retry-attempts', t('Attempts'), () => rp?.maximumAttempts || extension(x, 'zeebe:TaskDefinition')?.retries, set('maximumAttempts'), t('Default 3; then an incident waits for an operator.')),
        textEntry('rapport-retry-initial', t('First wait'), () => rp?.initialInterval, set('initialInterval'), t('ISO 8601 duration, default PT1S')),
        textEntry('rapport-retry-backoff', t('Backoff factor'), () => rp?.backoffCoefficient, set('backoffCoefficient'), t('Default 2')),
        textEntry('rapport-retry-max', t('Longest wait'), () => rp?.maximumInterval, set('maximumInterval'), t('ISO 8601 duration, default PT1M')),
      ],
    };
  }

  // Business rule tasks: the rule set.
  private rulesetGroup(element: Element) {
    const x = bo(element);
    const rs = extension(x, 'rapport:Ruleset');
    const decision = extension(x, 'zeebe:CalledDecision');
    const key = rs?.key || decision?.decisionId || '';
    const set = (attr: string) => (v: string) => {
      if (rs || !decision) return this.exec(setExtensionAttr(element, x, 'rapport:Ruleset', attr, v, this.factory));
      // A Camunda file's calledDecision becomes the rule set reference the first time it is edited here.
      const { ext, cmds } = ensureExtension(element, x, 'rapport:Ruleset', this.factory, { key: decision.decisionId, resultVariable: decision.resultVariable });
      this.exec([...cmds, update(element, ext, { [attr]: v || undefined }), ...removeExtension(element, x, 'zeebe:CalledDecision')]);
    };
    return {
      id: 'rapport-ruleset', label: t('Rule set'), component: Group, shouldOpen: true,
      entries: [
        choiceEntry('rapport-ruleset-key', t('Rule set'), options(this.data.rulesets.map((r) => ({ value: r.key, label: `${r.key} (${r.kind}${r.latestVersion ? ', v' + r.latestVersion : ', ' + t('not published')})` })), key),
          () => key, set('key')),
        textEntry('rapport-ruleset-version', t('Version'), () => rs?.version, set('version'), t('Empty: the latest published version.')),
        textEntry('rapport-ruleset-result', t('Result variable'), () => rs?.resultVariable || decision?.resultVariable, set('resultVariable')),
      ],
    };
  }

  // User tasks: who, by when, and the form.
  private assignmentGroup(element: Element) {
    const x = bo(element);
    const a = extension(x, 'zeebe:AssignmentDefinition');
    const set = (attr: string) => (v: string) => this.exec(setExtensionAttr(element, x, 'zeebe:AssignmentDefinition', attr, v, this.factory));
    const due = extension(x, 'rapport:DueDate');
    const sched = extension(x, 'zeebe:TaskSchedule');
    return {
      id: 'rapport-assignment', label: t('Assignment'), component: Group, shouldOpen: true,
      entries: [
        textEntry('rapport-assignee', t('Assignee'), () => a?.assignee, set('assignee'), t('A user ID or email, or =expression, e.g. =record.owner')),
        textEntry('rapport-candidate-groups', t('Candidate groups'), () => a?.candidateGroups, set('candidateGroups'), t('Teams or roles, separated by commas')),
        textEntry('rapport-candidate-users', t('Candidate users'), () => a?.candidateUsers, set('candidateUsers')),
        this.expr(element, 'rapport-due', t('Due date'), () => due?.expression || sched?.dueDate,
          (v) => this.exec(v ? setExtensionAttr(element, x, 'rapport:DueDate', 'expression', v, this.factory) : removeExtension(element, x, 'rapport:DueDate')),
          { description: t('An expression giving a time, e.g. addBusinessHours(now, 8, "office")') }),
      ],
    };
  }

  private formGroup(element: Element) {
    const x = bo(element);
    const fields = extension(x, 'rapport:FormFields')?.get('values') || [];
    return {
      id: 'rapport-form', label: t('Form fields'), component: ListGroup,
      items: fields.map((f: BO, i: number) => ({
        id: `rapport-field-${i}`, label: f.name ? `${f.name}: ${f.type || 'string'}${f.required ? ' *' : ''}` : t('(new field)'),
        remove: () => this.exec([update(element, f.$parent, { values: f.$parent.get('values').filter((y: BO) => y !== f) })]),
        entries: [
          textEntry(`rapport-field-${i}-name`, t('Name'), () => f.name, (v) => this.exec([update(element, f, { name: v })])),
          textEntry(`rapport-field-${i}-label`, t('Label'), () => f.label, (v) => this.exec([update(element, f, { label: v || undefined })])),
          choiceEntry(`rapport-field-${i}-type`, t('Type'), VARIABLE_TYPES.map((v) => ({ value: v, label: v })), () => f.type || 'string', (v) => this.exec([update(element, f, { type: v })])),
          flagEntry(`rapport-field-${i}-required`, t('Required'), () => f.required, (b) => this.exec([update(element, f, { required: b || undefined })])),
        ],
      })),
      add: () => {
        const { ext, cmds } = ensureExtension(element, x, 'rapport:FormFields', this.factory);
        const f = this.factory.create('rapport:Field', { name: `field${fields.length + 1}`, type: 'string' });
        f.$parent = ext;
        this.exec([...cmds, update(element, ext, { values: [...(ext.get('values') || []), f] })]);
      },
    };
  }

  // Script tasks: assignments evaluated in order.
  private scriptGroup(element: Element) {
    const x = bo(element);
    const list = extensions(x, 'rapport:Assign');
    return {
      id: 'rapport-script', label: t('Assignments'), component: ListGroup, shouldOpen: true,
      items: list.map((a: BO, i: number) => ({
        id: `rapport-assign-${i}`, label: a.target || t('(new assignment)'),
        remove: () => this.exec([update(element, x.extensionElements, { values: x.extensionElements.get('values').filter((y: BO) => y !== a) })]),
        entries: [
          textEntry(`rapport-assign-${i}-target`, t('Variable'), () => a.target, (v) => this.exec([update(element, a, { target: v })])),
          this.expr(element, `rapport-assign-${i}-expr`, t('Value of {what}', { what: a.target || '…' }), () => a.expression, (v) => this.exec([update(element, a, { expression: v })])),
        ],
      })),
      add: () => {
        const cmds: Cmd[] = [];
        let container = x.extensionElements;
        if (!container) {
          container = this.factory.create('bpmn:ExtensionElements', { values: [] });
          container.$parent = x;
          cmds.push(update(element, x, { extensionElements: container }));
        }
        const a = this.factory.create('rapport:Assign', { target: `value${list.length + 1}`, expression: '=' });
        a.$parent = container;
        this.exec([...cmds, update(element, container, { values: [...(container.get('values') || []), a] })]);
      },
    };
  }

  private callGroup(element: Element) {
    const x = bo(element);
    const c = extension(x, 'zeebe:CalledElement');
    const set = (attr: string) => (v: unknown) => this.exec(setExtensionAttr(element, x, 'zeebe:CalledElement', attr, v, this.factory));
    return {
      id: 'rapport-call', label: t('Called process'), component: Group, shouldOpen: true,
      entries: [
        choiceEntry('rapport-call-process', t('Process'), options(this.data.processes.map((p) => ({ value: p.key, label: p.name ? `${p.name} (${p.key})` : p.key })), c?.processId || ''),
          () => c?.processId, set('processId')),
        flagEntry('rapport-call-in', t('Pass all variables to the child'), () => c?.propagateAllParentVariables !== false, (b) => set('propagateAllParentVariables')(!!b)),
        flagEntry('rapport-call-out', t('Take all variables back from the child'), () => c?.propagateAllChildVariables !== false, (b) => set('propagateAllChildVariables')(!!b)),
      ],
    };
  }

  private conditionGroup(element: Element) {
    const x = bo(element);
    const isDefault = x.sourceRef?.default === x;
    const setCondition = (v: string) => {
      let expr: BO;
      if (v) {
        expr = this.factory.create('bpmn:FormalExpression', { body: v });
        expr.$parent = x;
      }
      this.exec([{ cmd: 'element.updateProperties', context: { element, properties: { conditionExpression: expr } } }]);
    };
    return {
      id: 'rapport-condition', label: t('Condition'), component: Group, shouldOpen: true,
      entries: isDefault ? [{ id: 'rapport-condition-default', component: () => h('p', { class: 'bio-properties-panel-description' }, t('The default flow: taken when no other condition holds.')) }]
        : [this.expr(element, 'rapport-condition-expr', t('Take this flow when'), () => formalBody(x.conditionExpression), setCondition)],
    };
  }

  private loopGroup(element: Element) {
    const x = bo(element);
    const loop = x.loopCharacteristics;
    const zl = extension(loop, 'zeebe:LoopCharacteristics');
    const set = (attr: string) => (v: string) => this.exec(setExtensionAttr(element, loop, 'zeebe:LoopCharacteristics', attr, v, this.factory));
    const setCompletion = (v: string) => {
      let expr: BO;
      if (v) {
        expr = this.factory.create('bpmn:FormalExpression', { body: v });
        expr.$parent = loop;
      }
      this.exec([update(element, loop, { completionCondition: expr })]);
    };
    return {
      id: 'rapport-loop', label: t('Multi-instance'), component: Group, shouldOpen: true,
      entries: [
        this.expr(element, 'rapport-loop-collection', t('For each item of'), () => zl?.inputCollection, set('inputCollection')),
        textEntry('rapport-loop-element', t('Item variable'), () => zl?.inputElement, set('inputElement')),
        textEntry('rapport-loop-output', t('Collect results into'), () => zl?.outputCollection, set('outputCollection')),
        this.expr(element, 'rapport-loop-output-element', t('Result of each item'), () => zl?.outputElement, set('outputElement')),
        this.expr(element, 'rapport-loop-completion', t('Stop early when'), () => formalBody(loop.completionCondition), setCompletion),
      ],
    };
  }
}

/** The declared variables of the process an element belongs to (for the start form and the bench). */
export { declared };

/** The bpmn-js module adding Rapport's groups; data is the panel's live PanelData. */
export function rapportPanelModule(data: PanelData) {
  return {
    __init__: ['rapportPropertiesProvider'],
    rapportPropertiesProvider: ['type', RapportPropertiesProvider],
    rapportData: ['value', data],
  };
}
