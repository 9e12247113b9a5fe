package bpmn

import (
	"strings"
	"time"
)

// Kind is what an executable node does; the interpreter switches on it. Kinds are fine-grained (a timer
// boundary event and a message boundary event are different kinds) so that no walker has to re-inspect
// event definitions.
type Kind string

// The node kinds of the supported subset.
const (
	KindStartNone        Kind = "startNone"
	KindStartRecord      Kind = "startRecord"
	KindStartTimer       Kind = "startTimer"
	KindStartMessage     Kind = "startMessage"
	KindStartError       Kind = "startError" // only inside event sub-processes
	KindEndNone          Kind = "endNone"
	KindEndTerminate     Kind = "endTerminate"
	KindEndError         Kind = "endError"
	KindServiceTask      Kind = "serviceTask"
	KindUserTask         Kind = "userTask"
	KindBusinessRuleTask Kind = "businessRuleTask"
	KindScriptTask       Kind = "scriptTask"
	KindReceiveTask      Kind = "receiveTask"
	KindExclusiveGateway Kind = "exclusiveGateway"
	KindParallelGateway  Kind = "parallelGateway"
	KindInclusiveGateway Kind = "inclusiveGateway"
	KindEventGateway     Kind = "eventBasedGateway"
	KindTimerCatch       Kind = "timerCatch"
	KindMessageCatch     Kind = "messageCatch"
	KindMessageThrow     Kind = "messageThrow"
	KindLinkThrow        Kind = "linkThrow"
	KindLinkCatch        Kind = "linkCatch"
	KindBoundaryTimer    Kind = "boundaryTimer"
	KindBoundaryMessage  Kind = "boundaryMessage"
	KindBoundaryError    Kind = "boundaryError"
	KindSubProcess       Kind = "subProcess"
	KindEventSubProcess  Kind = "eventSubProcess"
	KindCallActivity     Kind = "callActivity"
	// KindUnsupported marks a node Validate refused; a compiled Model never contains one.
	KindUnsupported Kind = "unsupported"
)

// IsStart reports whether k is a start event kind.
func (k Kind) IsStart() bool {
	switch k {
	case KindStartNone, KindStartRecord, KindStartTimer, KindStartMessage, KindStartError:
		return true
	}
	return false
}

// IsEnd reports whether k is an end event kind.
func (k Kind) IsEnd() bool { return k == KindEndNone || k == KindEndTerminate || k == KindEndError }

// IsGateway reports whether k is a gateway kind.
func (k Kind) IsGateway() bool {
	return k == KindExclusiveGateway || k == KindParallelGateway || k == KindInclusiveGateway || k == KindEventGateway
}

// IsBoundary reports whether k is a boundary event kind.
func (k Kind) IsBoundary() bool {
	return k == KindBoundaryTimer || k == KindBoundaryMessage || k == KindBoundaryError
}

// IsActivity reports whether k is an activity that boundary events may attach to.
func (k Kind) IsActivity() bool {
	switch k {
	case KindServiceTask, KindUserTask, KindBusinessRuleTask, KindScriptTask, KindReceiveTask,
		KindSubProcess, KindCallActivity:
		return true
	}
	return false
}

// IsWait reports whether a token may rest at a node of kind k waiting for the outside world (a person, a
// timer, a message, a child); the interpreter uses it to bound loops without waits.
func (k Kind) IsWait() bool {
	switch k {
	case KindUserTask, KindReceiveTask, KindTimerCatch, KindMessageCatch, KindEventGateway, KindCallActivity:
		return true
	}
	return false
}

// Model is one executable process compiled from Definitions: nodes and flows addressed by index, scopes
// for sub-processes, every setting parsed. It holds no maps in its exported fields, so encoding it and
// walking it are deterministic, and compiling the same XML always gives the same Model.
type Model struct {
	// ProcessID and Name identify the process inside its document.
	ProcessID string `json:"processId"`
	Name      string `json:"name,omitempty"`
	// Hash is the hex SHA-256 of the XML the model was compiled from.
	Hash string `json:"hash"`
	// Variables are the declared process variables in declaration order.
	Variables []VariableDecl `json:"variables,omitempty"`
	// Nodes in document order (depth-first through sub-processes); Node.Index is the position.
	Nodes []Node `json:"nodes"`
	// Flows in document order; Flow.Index is the position.
	Flows []Flow `json:"flows"`
	// Scopes[0] is the process itself; each sub-process and event sub-process has its own scope.
	Scopes []Scope `json:"scopes"`
	// Warnings are what compiled but deserves attention (undeclared variables typed any), each with
	// its element, for validate and publish to list.
	Warnings []Problem `json:"warnings,omitempty"`

	ids map[string]int
}

// Node returns the node with the given element id, or nil.
func (m *Model) Node(id string) *Node {
	if m.ids != nil {
		if i, ok := m.ids[id]; ok {
			return &m.Nodes[i]
		}
		return nil
	}
	for i := range m.Nodes {
		if m.Nodes[i].ID == id {
			return &m.Nodes[i]
		}
	}
	return nil
}

// Starts returns the indexes of the process-level start events of kind k, in document order, so the
// API can find the none start and the trigger layer the record, timer and message starts.
func (m *Model) Starts(k Kind) []int {
	var out []int
	for _, i := range m.Scopes[0].Starts {
		if m.Nodes[i].Kind == k {
			out = append(out, i)
		}
	}
	return out
}

// Scope is the process or one sub-process: the nodes it contains directly, its start events, and the
// event sub-processes that listen while it is active.
type Scope struct {
	Index int `json:"index"`
	// Parent is the enclosing scope index, -1 for the process.
	Parent int `json:"parent"`
	// Node is the sub-process node owning the scope, -1 for the process.
	Node int `json:"node"`
	// Nodes are the direct children in document order.
	Nodes []int `json:"nodes"`
	// Starts are the start events of the scope itself (not of its event sub-processes).
	Starts []int `json:"starts"`
	// EventSubProcesses are the event sub-process nodes directly inside the scope.
	EventSubProcesses []int `json:"eventSubProcesses,omitempty"`
}

// Flow is a compiled sequence flow.
type Flow struct {
	Index  int    `json:"index"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Source int    `json:"source"`
	Target int    `json:"target"`
	// Condition is expr source (a FEEL "=" prefix removed); empty means unconditional.
	Condition string `json:"condition,omitempty"`
	// IsDefault marks the default flow of its source gateway.
	IsDefault bool `json:"isDefault,omitempty"`
}

// Node is one compiled flow node. Only the fields for its Kind are set.
type Node struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Kind  Kind   `json:"kind"`
	// Scope is the scope that contains the node.
	Scope int `json:"scope"`
	// Incoming and Outgoing are flow indexes in document order.
	Incoming []int `json:"incoming"`
	Outgoing []int `json:"outgoing"`
	// Default is the default flow index of a gateway, -1 when none.
	Default int `json:"default"`
	// Boundaries are the boundary event nodes attached to this activity.
	Boundaries []int `json:"boundaries,omitempty"`
	// AttachedTo is a boundary event's host node, -1 otherwise.
	AttachedTo int `json:"attachedTo"`
	// Interrupting is true for interrupting boundary events and event sub-process starts (and the event
	// sub-process node itself when its start interrupts).
	Interrupting bool `json:"interrupting,omitempty"`
	// SubScope is the scope of a sub-process or event sub-process, -1 otherwise.
	SubScope int `json:"subScope"`
	// LinkName is the name of a link event; LinkTarget the catch node a link throw continues at (-1 otherwise).
	LinkName   string `json:"linkName,omitempty"`
	LinkTarget int    `json:"linkTarget"`
	// Lane is the name of the lane holding the node, for display.
	Lane string `json:"lane,omitempty"`
	// PassThrough marks a plain task, manual task or none intermediate throw event: it runs as a
	// script task without assignments (the token moves straight on, io mappings applied), as in
	// Camunda 8.
	PassThrough bool `json:"passThrough,omitempty"`

	Timer   *Timer         `json:"timer,omitempty"`
	Message *MessageSpec   `json:"message,omitempty"`
	Error   *ErrorSpec     `json:"error,omitempty"`
	Task    *TaskSpec      `json:"task,omitempty"`
	User    *UserTaskSpec  `json:"user,omitempty"`
	Rules   *RulesetRef    `json:"rules,omitempty"`
	Script  []Assignment   `json:"script,omitempty"`
	Call    *CallSpec      `json:"call,omitempty"`
	Trigger *RecordTrigger `json:"trigger,omitempty"`
	// StartForm are the typed fields of a start event's form (zeebe:formDefinition or Camunda 7
	// camunda:formData): a start request must supply the required ones with the right types.
	StartForm []FormField  `json:"startForm,omitempty"`
	Loop      *LoopSpec    `json:"loop,omitempty"`
	Inputs    []Mapping    `json:"inputs,omitempty"`
	Outputs   []Mapping    `json:"outputs,omitempty"`
	Retry     *RetryPolicy `json:"retry,omitempty"`
	Headers   []Header     `json:"headers,omitempty"`
}

// Timer is a parsed timer. Expression is set when the value is an expression (written "=..."),
// otherwise the field for Kind holds the parsed value.
type Timer struct {
	Kind       TimerKind `json:"kind"`
	Expression string    `json:"expression,omitempty"`
	Date       time.Time `json:"date,omitzero"`
	Duration   Duration  `json:"duration,omitzero"`
	Cycle      *Cycle    `json:"cycle,omitempty"`
}

// RecordEventPrefix starts the name of every record event message: a record change is delivered to the
// running instances bound to the record as the message "record.<entity>.<created|updated|deleted>".
const RecordEventPrefix = "record."

// RecordEvent names the message a record change is delivered as, e.g. record.interaction.created.
func RecordEvent(entity, on string) string { return RecordEventPrefix + entity + "." + on }

// ParseRecordEvent splits a record event message name into its entity and change; ok is false for
// any other message.
func ParseRecordEvent(name string) (entity, on string, ok bool) {
	rest, found := strings.CutPrefix(name, RecordEventPrefix)
	entity, on, dot := strings.Cut(rest, ".")
	if !found || !dot || entity == "" || on == "" || strings.Contains(on, ".") {
		return "", "", false
	}
	return entity, on, true
}

// MessageSpec names a message and the expression its correlation key is computed from.
type MessageSpec struct {
	Name           string `json:"name"`
	CorrelationKey string `json:"correlationKey,omitempty"`
	// WhenChanged, on a record.<entity>.updated message, lists the fields whose change is delivered; an
	// update that changes none of them does not wake the instance. Empty: every update is delivered.
	// Delivery reads it (engine/definitions), the interpreter does not.
	WhenChanged []string `json:"whenChanged,omitempty"`
}

// ErrorSpec is the error an error end event throws or an error boundary/start catches; an empty Code on a
// catching event catches every error.
type ErrorSpec struct {
	Code string `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
}

// TaskSpec is a job's task type: a built-in one (run by Rapport's handler of that type) or an
// external task (run by a worker outside Rapport).
type TaskSpec struct {
	// Type is the task type the job runs as (an alias resolved: io.camunda:http-json:1 runs as http);
	// empty when TypeExpression computes it.
	Type string `json:"type"`
	// Written is the type as the diagram names it, when it differs from Type.
	Written string `json:"written,omitempty"`
	// External marks a type no built-in handler runs: a Temporal activity of that name on the external
	// task queue, or fetch-and-lock over REST.
	External bool `json:"external,omitempty"`
	// TypeExpression computes the (external) type when the job starts (Zeebe's type="=...").
	TypeExpression string `json:"typeExpression,omitempty"`
}

// Mapping copies the value of an expression into a variable (zeebe:input / zeebe:output).
type Mapping struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// Assignment is one script-task step: evaluate Expression, store it in Target.
type Assignment struct {
	Target     string `json:"target"`
	Expression string `json:"expression"`
}

// Expr is a value that is either a literal or an expression (written "=..." in the XML).
type Expr struct {
	Literal    string `json:"literal,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// IsZero reports whether neither a literal nor an expression is set.
func (e Expr) IsZero() bool { return e.Literal == "" && e.Expression == "" }

// UserTaskSpec says who may complete a user task, by when, and what the completion must contain.
type UserTaskSpec struct {
	Assignee        Expr `json:"assignee,omitzero"`
	CandidateGroups Expr `json:"candidateGroups,omitzero"`
	CandidateUsers  Expr `json:"candidateUsers,omitzero"`
	DueDate         Expr `json:"dueDate,omitzero"`
	// Priority orders inboxes: a number from 0 to 100 (higher first) or an expression giving one.
	Priority Expr        `json:"priority,omitzero"`
	FormKey  string      `json:"formKey,omitempty"`
	Fields   []FormField `json:"fields,omitempty"`
}

// CallSpec names the process a call activity starts (a literal id or an expression).
type CallSpec struct {
	ProcessID                   Expr `json:"processId"`
	PropagateAllChildVariables  bool `json:"propagateAllChildVariables,omitempty"`
	PropagateAllParentVariables bool `json:"propagateAllParentVariables,omitempty"`
}

// LoopSpec is a multi-instance activity: one instance per element of InputCollection.
type LoopSpec struct {
	Sequential          bool   `json:"sequential,omitempty"`
	InputCollection     string `json:"inputCollection"`
	InputElement        string `json:"inputElement,omitempty"`
	OutputCollection    string `json:"outputCollection,omitempty"`
	OutputElement       string `json:"outputElement,omitempty"`
	CompletionCondition string `json:"completionCondition,omitempty"`
}

// RetryPolicy is how a service task's activity is retried. MaximumAttempts counts the first attempt;
// when attempts are exhausted the interpreter raises an incident at the task.
type RetryPolicy struct {
	InitialInterval    time.Duration `json:"initialInterval"`
	BackoffCoefficient float64       `json:"backoffCoefficient"`
	MaximumInterval    time.Duration `json:"maximumInterval"`
	MaximumAttempts    int           `json:"maximumAttempts"`
}

// DefaultRetryPolicy is used for service tasks that declare neither zeebe retries nor a
// rapport:retryPolicy: three attempts, 1s doubling up to one minute.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 3}
}
