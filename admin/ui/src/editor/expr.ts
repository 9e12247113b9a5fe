// The expression editor (CodeMirror 6), loaded on demand: expr syntax highlighting, completion of the
// entity's field names (nested paths too) and of the helper functions, and compile problems from the API
// underlined at their line and column.
import { EditorState, Compartment } from '@codemirror/state';
import { EditorView, keymap, placeholder as placeholderExt, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { StreamLanguage, HighlightStyle, syntaxHighlighting, bracketMatching } from '@codemirror/language';
import { autocompletion, closeBrackets, completionKeymap, type CompletionContext, type Completion } from '@codemirror/autocomplete';
import { setDiagnostics, lintGutter, type Diagnostic } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
import { HELPERS, KEYWORDS } from './helpers';

/** A variable the expression may read: a field path with its type. */
export interface Var {
  name: string;
  type: string;
  detail?: string;
  children?: Var[];
}

/** A compile problem at a 1-based line and column. */
export interface ExprProblem {
  line: number;
  column: number;
  message: string;
}

export interface ExprEditor {
  setDoc(doc: string): void;
  setVars(vars: Var[]): void;
  setProblems(problems: ExprProblem[]): void;
  focus(): void;
  destroy(): void;
}

const keywordSet = new Set(KEYWORDS);

const exprLanguage = StreamLanguage.define<{ inString: string | null }>({
  name: 'expr',
  startState: () => ({ inString: null }),
  token(stream, state) {
    if (state.inString) {
      while (!stream.eol()) {
        const ch = stream.next();
        if (ch === '\\') stream.next();
        else if (ch === state.inString) {
          state.inString = null;
          break;
        }
      }
      return 'string';
    }
    if (stream.eatSpace()) return null;
    const ch = stream.peek()!;
    if (ch === '"' || ch === "'" || ch === '`') {
      stream.next();
      state.inString = ch;
      return 'string';
    }
    if (stream.match(/^\/\/.*/)) return 'comment';
    if (stream.match(/^\d+(\.\d+)?([eE][-+]?\d+)?/)) return 'number';
    if (stream.match(/^[A-Za-z_$][\w$]*/)) {
      const word = stream.current();
      if (keywordSet.has(word)) return word === 'true' || word === 'false' || word === 'nil' ? 'atom' : 'keyword';
      if (stream.match(/^\s*\(/, false)) return 'function';
      return 'variableName';
    }
    if (stream.match(/^(==|!=|<=|>=|&&|\|\||\?\?|\.\.|[-+*/%<>!?:^])/)) return 'operator';
    stream.next();
    return 'punctuation';
  },
  tokenTable: { function: tags.function(tags.variableName) },
});

const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: '#7a1fa2', fontWeight: '600' },
  { tag: tags.atom, color: '#0b5394' },
  { tag: tags.string, color: '#0d6b2a' },
  { tag: tags.number, color: '#9a3c00' },
  { tag: tags.comment, color: '#5f6b76', fontStyle: 'italic' },
  { tag: tags.operator, color: '#1b1f24' },
  { tag: tags.function(tags.variableName), color: '#0b57d0' },
  { tag: tags.variableName, color: '#1b1f24' },
]);

const theme = EditorView.theme({
  '&': { fontSize: '14px' },
  '.cm-content': { fontFamily: 'ui-monospace, Menlo, Consolas, monospace', padding: '4px 0', minHeight: '1.6em' },
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy #a4161a', textDecorationSkipInk: 'none' },
  '.cm-tooltip-autocomplete ul li[aria-selected]': { background: '#1a56a8', color: '#fff' },
});

function completions(vars: () => Var[]) {
  return (ctx: CompletionContext) => {
    const word = ctx.matchBefore(/[\w$.]*$/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    const text = word.text;
    const dot = text.lastIndexOf('.');
    if (dot >= 0) {
      // A nested path: complete the children of what comes before the dot.
      let list: Var[] | undefined = vars();
      for (const part of text.slice(0, dot).split('.')) {
        list = list?.find((v) => v.name === part)?.children;
      }
      if (!list) return null;
      return {
        from: word.from + dot + 1,
        options: list.map((v): Completion => ({ label: v.name, type: 'property', detail: v.type, info: v.detail })),
        validFor: /^\w*$/,
      };
    }
    const options: Completion[] = [
      ...vars().map((v): Completion => ({ label: v.name, type: 'variable', detail: v.type, info: v.detail, boost: 2 })),
      ...HELPERS.map((h): Completion => ({ label: h.name, type: 'function', detail: h.signature, info: h.doc, apply: h.name + '(' })),
      ...KEYWORDS.map((k): Completion => ({ label: k, type: 'keyword' })),
    ];
    return { from: word.from, options, validFor: /^[\w$]*$/ };
  };
}

/** Mounts an editor into parent. */
export function createExprEditor(
  parent: HTMLElement,
  o: { doc: string; vars: Var[]; label: string; describedBy?: string; placeholder?: string; readOnly?: boolean; onChange: (doc: string) => void },
): ExprEditor {
  let vars = o.vars;
  const attrs = new Compartment();
  const contentAttrs = (): Record<string, string> => {
    const a: Record<string, string> = { 'aria-label': o.label, 'aria-multiline': 'true', role: 'textbox' };
    if (o.describedBy) a['aria-describedby'] = o.describedBy;
    return a;
  };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        history(),
        drawSelection(),
        bracketMatching(),
        closeBrackets(),
        exprLanguage,
        syntaxHighlighting(highlight),
        autocompletion({ override: [completions(() => vars)], activateOnTyping: true }),
        lintGutter(),
        keymap.of([...completionKeymap, ...defaultKeymap, ...historyKeymap]),
        placeholderExt(o.placeholder || ''),
        EditorView.lineWrapping,
        EditorState.readOnly.of(!!o.readOnly),
        attrs.of(EditorView.contentAttributes.of(contentAttrs())),
        theme,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) o.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    setDoc(doc) {
      if (doc !== view.state.doc.toString()) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc } });
    },
    setVars(v) {
      vars = v;
    },
    setProblems(problems) {
      const doc = view.state.doc;
      const diagnostics: Diagnostic[] = problems.map((p) => {
        const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines));
        const from = Math.min(line.from + Math.max(p.column - 1, 0), line.to);
        // Underline the word at the position (or one character).
        const rest = doc.sliceString(from, line.to);
        const m = rest.match(/^[\w$.]+/);
        const to = Math.min(from + (m ? m[0].length : 1), doc.length);
        return { from, to: Math.max(to, from), severity: 'error', message: p.message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    focus() {
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}
