package bpmn

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// ExprResult is the kind of value an expression site needs, so a checker can require a boolean
// condition or a time for a timer date.
type ExprResult string

// The result kinds expression sites ask for.
const (
	ResultAny      ExprResult = ""
	ResultBool     ExprResult = "bool"
	ResultString   ExprResult = "string"
	ResultTime     ExprResult = "time"
	ResultDuration ExprResult = "duration"
	ResultList     ExprResult = "list"
)

// ExprSite is one expression in a definition together with what it may read, handed to the expression
// checker. Source has FEEL's leading "=" already removed.
type ExprSite struct {
	ProcessID string
	ElementID string
	// Field names the attribute holding the expression, e.g. "condition" or "input source".
	Field  string
	Source string
	Result ExprResult
	// Variables are the declared process variables followed by the ones the process itself assigns
	// (outputs, script targets, form fields, result variables) with type "any" when undeclared.
	Variables []VariableDecl
	// Entity is the entity of the process's record trigger, if any; expressions may read it as `record`.
	Entity string
}

// ExprChecker compiles one expression and returns an error describing why it does not compile.
type ExprChecker func(site ExprSite) error

// Options tune Validate and Compile.
type Options struct {
	// ProcessID restricts checking to one process; empty checks every process with flow elements.
	ProcessID string
	// CheckExpr compiles expressions; nil uses DefaultExprChecker(nil).
	CheckExpr ExprChecker
	// SkipExpressions disables expression compilation (structure is still checked).
	SkipExpressions bool
	// Tasks is the task type catalogue: the built-in types a service task may name, what each must be
	// given and what it returns; nil is tasktypes.Builtin(). A type that is not in it is an external
	// task.
	Tasks *tasktypes.Registry
	// CheckTaskTypes applies the catalogue's checks to every job of a built-in type — the headers and
	// inputs it requires, each type's own Validate with TaskEnv, typed results — as a deployment does.
	CheckTaskTypes bool
	// TaskEnv is what task type checks look up (entities, rule sets, connectors); a nil lookup skips
	// the checks that need it.
	TaskEnv tasktypes.Env
	// TaskTypes are more service task types Rapport's own handlers run (not external tasks), without a
	// description (tests, plugins).
	TaskTypes []string
	// CheckTask, when set, validates a service task's configuration for its type (required headers,
	// known connector ids...), so each task implementation owns its own rules; a returned error becomes
	// a problem of the task.
	CheckTask func(taskType string, headers []Header, inputs []Mapping) error
}

// BuiltinTaskTypes are the service task types Rapport runs without plugins.
func BuiltinTaskTypes() []string {
	return tasktypes.Builtin().IDs()
}

// VariableTypes are the type names accepted for declared variables and form fields (the expression
// package's kinds); aliases such as "number" or "boolean" are normalised to them.
func VariableTypes() []string {
	return []string{"string", "int", "float", "bool", "time", "duration", "list", "object", "any"}
}

// normalizeType maps a declared type name to its canonical form, or "" when unknown.
func normalizeType(t string) string {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "string", "text":
		return "string"
	case "int", "integer", "long":
		return "int"
	case "float", "number", "double", "decimal":
		return "float"
	case "bool", "boolean":
		return "bool"
	case "time", "date", "datetime":
		return "time"
	case "duration":
		return "duration"
	case "list", "array":
		return "list"
	case "object", "map":
		return "object"
	case "any":
		return "any"
	}
	return ""
}

// ResultVar is the name under which output mapping sources read the activity's result (a service
// task's output, a rule set's result, a user task's submitted form).
const ResultVar = "result"

// LoopCounter is the local variable holding the 1-based position of a multi-instance activity's
// instance in its input collection (as in Zeebe).
const LoopCounter = "loopCounter"

// identRe matches a plain variable name; pathRe a dotted path into a variable (for mapping targets).
var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	pathRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// Validate checks definitions against the supported subset and returns every problem found, each with
// the id of the element concerned. An empty result means every checked process compiles.
func Validate(defs *Definitions, opts Options) []Problem {
	problems, _ := Check(defs, opts)
	return problems
}

// Check is Validate that also returns the warnings: what compiles but deserves the analyst's attention,
// such as variables used without a rapport:variable declaration (typed any). Warnings never refuse a
// process.
func Check(defs *Definitions, opts Options) (problems, warnings []Problem) {
	if defs == nil {
		return []Problem{{Reason: "no definitions"}}, nil
	}
	if opts.ProcessID != "" {
		p := defs.Process(opts.ProcessID)
		if p == nil {
			return []Problem{{ElementID: opts.ProcessID, Reason: fmt.Sprintf("process %q is not defined in the document", opts.ProcessID)}}, nil
		}
		_, problems, warnings := compileProcess(defs, p, opts)
		return problems, warnings
	}
	_, problems, warnings = CompileAll(defs, opts)
	return problems, warnings
}

// CompileAll compiles every process of the document that runs (see Runnable), as a deployment does:
// the models in document order, or every problem of every process; warnings either way (a pool that is
// not executable and so not deployed among them).
func CompileAll(defs *Definitions, opts Options) (models []*Model, problems, warnings []Problem) {
	if defs == nil {
		return nil, []Problem{{Reason: "no definitions"}}, nil
	}
	procs, skipped := Runnable(defs)
	if len(procs) == 0 {
		return nil, []Problem{{ElementID: defs.ID, Reason: "the document defines no process with flow elements; draw a process with a start event"}}, nil
	}
	for _, p := range skipped {
		warnings = append(warnings, Problem{ElementID: p.ID, Reason: fmt.Sprintf(
			"process %q is not executable (isExecutable is not true), so it is not deployed; set isExecutable=\"true\" to deploy it too", p.ID)})
	}
	for _, p := range procs {
		o := opts
		o.ProcessID = p.ID
		m, ps, ws := compileProcess(defs, p, o)
		problems = append(problems, ps...)
		warnings = append(warnings, ws...)
		if m != nil {
			models = append(models, m)
		}
	}
	if len(problems) > 0 {
		return nil, problems, warnings
	}
	return models, nil, warnings
}

// Runnable lists the processes a deployment compiles, in document order: those marked executable, or,
// when the document marks none (bpmn-js writes isExecutable="false" by default), every process with
// flow elements. Empty pools of a collaboration (black-box participants) never run; skipped are the
// processes with flow elements left out because others are executable.
func Runnable(defs *Definitions) (procs, skipped []*Process) {
	var drawn []*Process
	for _, p := range defs.Processes {
		if len(p.Elements) > 0 || len(p.Flows) > 0 {
			drawn = append(drawn, p)
		}
	}
	for _, p := range drawn {
		if p.Executable {
			procs = append(procs, p)
		} else {
			skipped = append(skipped, p)
		}
	}
	if len(procs) == 0 {
		return drawn, nil
	}
	return procs, skipped
}

// Compile validates the process processID of defs (expressions checked by DefaultExprChecker) and
// returns its executable Model, or nil and every problem found.
func Compile(defs *Definitions, processID string) (*Model, []Problem) {
	return CompileWith(defs, Options{ProcessID: processID})
}

// CompileWith is Compile with explicit options. An empty opts.ProcessID selects the only process with
// flow elements.
func CompileWith(defs *Definitions, opts Options) (*Model, []Problem) {
	if defs == nil {
		return nil, []Problem{{Reason: "no definitions"}}
	}
	var proc *Process
	if opts.ProcessID == "" {
		procs, _ := Runnable(defs)
		switch len(procs) {
		case 0:
			return nil, []Problem{{ElementID: defs.ID, Reason: "the document defines no process with flow elements; draw a process with a start event"}}
		case 1:
		default:
			ids := make([]string, len(procs))
			for i, p := range procs {
				ids[i] = p.ID
			}
			return nil, []Problem{{ElementID: defs.ID, Reason: fmt.Sprintf(
				"the document has %d executable processes (%s); compile them with CompileAll, or name one in Options.ProcessID", len(procs), strings.Join(ids, ", "))}}
		}
		proc = procs[0]
	} else if proc = defs.Process(opts.ProcessID); proc == nil {
		return nil, []Problem{{ElementID: opts.ProcessID, Reason: fmt.Sprintf("process %q is not defined in the document", opts.ProcessID)}}
	}
	m, problems, _ := compileProcess(defs, proc, opts)
	if len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}
