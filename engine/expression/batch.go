package expression

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// ErrNotBatchable is returned by CompileBatch for conditions it cannot
// combine (those declaring their own `let` variables); callers then
// evaluate the programs one by one.
var ErrNotBatchable = errors.New("conditions cannot be combined into a batch")

// Batch evaluates many boolean conditions over one record in a single run
// of the virtual machine, reading each variable from the record once. Rule
// sets with many conditions (scoring, validation) use it on hot paths; the
// results are identical to running each Program on its own.
type Batch struct {
	prog   *vm.Program
	env    *Env
	conds  []*Program
	hoist  int // number of hoisted variables, whose slots precede the conditions'
	source string
	bind   bool // reads `now` or the string budget, so vars must be bound
	// fast holds Go closures for the conditions when all of them are
	// simple; fields are the variables they read, by slot.
	fast   []fastCond
	fields []string
}

// NeedsBind reports whether the batch reads `now` or builds strings, i.e.
// whether Evaluator.Bind must run before EvalBatch; skipping it saves two
// map writes per record on the hot path.
func (b *Batch) NeedsBind() bool { return b.bind }

// Native reports whether every condition runs as a compiled Go closure
// (comparisons, `in` over literal lists and boolean logic over scalar
// variables) rather than in the virtual machine.
func (b *Batch) Native() bool { return b.fast != nil }

// Len returns the number of conditions.
func (b *Batch) Len() int { return len(b.conds) }

// CompileBatch combines already compiled boolean conditions (compiled
// against the same Env) into one program: the record's variables are bound
// once to local slots and each condition's result is stored in a slot of
// its own.
func CompileBatch(conds []*Program) (b *Batch, err error) {
	if len(conds) == 0 {
		return nil, fmt.Errorf("compile batch: no conditions")
	}
	env := conds[0].env
	for _, p := range conds {
		if p.env != env {
			return nil, fmt.Errorf("compile batch: conditions compiled against different environments")
		}
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("compile batch: internal compiler error: %v", r)
		}
	}()
	cfg := conf.CreateNew()
	options := append(append([]expr.Option{}, env.base...), expr.MaxNodes(env.limits.MaxNodes*uint(len(conds)+1)), expr.Patch(&rewriter{}))
	for _, o := range options {
		o(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Check()

	hoisted := map[string]bool{}
	for _, p := range conds {
		for _, f := range p.fields {
			hoisted[f] = true
		}
		if p.usesNow {
			hoisted[NowVar] = true
		}
	}
	fields := make([]string, 0, len(hoisted))
	for f := range hoisted {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	local := func(name string) string { return "\x00v:" + name }

	fb := &fastBuilder{env: env, slots: map[string]int{}}
	for i, f := range fields {
		fb.slots[f] = i
	}
	var fast []fastCond
	trees := make([]ast.Node, len(conds))
	var src strings.Builder
	for i, p := range conds {
		tree, err := parser.ParseWithConfig(p.src, cfg)
		if err != nil {
			return nil, fmt.Errorf("compile batch: condition %d: %w", i, err)
		}
		if fast != nil || i == 0 {
			if fc := fb.build(tree.Node); fc != nil {
				fast = append(fast, fc)
			} else {
				fast = nil
			}
		}
		r := &renamer{hoisted: hoisted, local: local}
		ast.Walk(&tree.Node, r)
		if r.hasLet {
			return nil, ErrNotBatchable
		}
		trees[i] = tree.Node
		fmt.Fprintf(&src, "%d: %s\n", i, p.src)
	}
	var node ast.Node = &ast.BoolNode{Value: true}
	for i := len(trees) - 1; i >= 0; i-- {
		node = &ast.VariableDeclaratorNode{Name: fmt.Sprintf("\x00c:%d", i), Value: trees[i], Expr: node}
	}
	for i := len(fields) - 1; i >= 0; i-- {
		node = &ast.VariableDeclaratorNode{Name: local(fields[i]), Value: &ast.IdentifierNode{Value: fields[i]}, Expr: node}
	}
	tree := &parser.Tree{Node: node, Source: file.NewSource(src.String())}
	if _, err := new(checker.Checker).PatchAndCheck(tree, cfg); err != nil {
		return nil, fmt.Errorf("compile batch: %w", err)
	}
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		return nil, fmt.Errorf("compile batch: optimize: %w", err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, fmt.Errorf("compile batch: %w", err)
	}
	finder := &identFinder{names: map[string]bool{NowVar: true, runVar: true}}
	ast.Walk(&tree.Node, finder)
	b = &Batch{prog: prog, env: env, conds: conds, hoist: len(fields), source: src.String(), bind: finder.found, fields: fields}
	if len(fast) == len(conds) {
		b.fast = fast
	}
	return b, nil
}

// renamer points reads of record variables at the hoisted local slots and
// notes conditions that declare variables of their own.
type renamer struct {
	hoisted map[string]bool
	local   func(string) string
	hasLet  bool
}

// Visit implements ast.Visitor.
func (r *renamer) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		r.hasLet = true
	case *ast.IdentifierNode:
		if r.hoisted[n.Value] {
			n.Value = r.local(n.Value)
		}
	}
}

// identFinder reports whether any of the named identifiers occurs.
type identFinder struct {
	names map[string]bool
	found bool
}

// Visit implements ast.Visitor.
func (f *identFinder) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && f.names[id.Value] {
		f.found = true
	}
}

// EvalBatch evaluates every condition of b over vars (prepared with Bind)
// and writes the results into out, which must have b.Len() elements. A
// failure of any condition fails the batch; callers that need to know which
// condition failed re-run the programs one by one.
func (ev *Evaluator) EvalBatch(b *Batch, vars map[string]any, out []bool) (err error) {
	if len(out) != len(b.conds) {
		return fmt.Errorf("evaluate batch: %d result slots for %d conditions", len(out), len(b.conds))
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluate batch: %v", r)
		}
	}()
	if b.fast != nil && ev.evalFast(b, vars, out) {
		return nil
	}
	ev.state.used, ev.state.steps = 0, 0
	if _, err := ev.vm.Run(b.prog, vars); err != nil {
		return fmt.Errorf("evaluate batch: %w", err)
	}
	slots := ev.vm.Variables[b.hoist : b.hoist+len(b.conds)]
	for i, v := range slots {
		ok, isBool := v.(bool)
		if !isBool {
			return fmt.Errorf("evaluate %q: result is %T, not a bool", b.conds[i].src, v)
		}
		out[i] = ok
	}
	return nil
}

// evalFast runs the closures; false means a value had an unexpected type
// and the VM must decide (it reports the error or converts as expr does).
func (ev *Evaluator) evalFast(b *Batch, vars map[string]any, out []bool) bool {
	if cap(ev.slots) < len(b.fields) {
		ev.slots = make([]any, len(b.fields))
	}
	slots := ev.slots[:len(b.fields)]
	for i, f := range b.fields {
		slots[i] = vars[f]
	}
	for i, c := range b.fast {
		v, ok := c(slots)
		if !ok {
			return false
		}
		out[i] = v
	}
	return true
}
