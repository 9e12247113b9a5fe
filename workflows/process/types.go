// Package process is the one generic interpreter workflow that runs every published BPMN process: it
// walks a compiled engine/bpmn Model with tokens, runs service tasks as one generic activity that
// dispatches on the task type, waits for people through Temporal updates and for messages through
// signals, and exposes its state through queries and search attributes.
//
// The workflow never reads the wall clock, draws random numbers, iterates maps to decide anything or
// does I/O: the Model travels in the input (or is loaded by a local activity from a DefinitionStore),
// expressions see workflow.Now as `now`, and every decision walks slices in document order.
package process

import (
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

// Names under which the workflow, its activities, queries, updates and signals are registered. They are
// part of the contract with the API layer and with recorded histories, so they never change.
const (
	// WorkflowName is the registered name of Run.
	WorkflowName = "rapport.process"
	// TaskActivityName is the one activity every service task, business rule task and message throw runs.
	TaskActivityName = "rapport.process.task"
	// LoadActivityName is the local activity that loads a Model from the DefinitionStore.
	LoadActivityName = "rapport.process.load"
	// CalendarsActivityName is the local activity that reads the business calendars a model's
	// expressions use, once at start (they are then carried in the state).
	CalendarsActivityName = "rapport.process.calendars"

	// QueryState returns a Snapshot of the instance.
	QueryState = "state"
	// QueryUserTasks returns the open user tasks.
	QueryUserTasks = "userTasks"
	// QueryInbox returns the instance's user tasks as the inbox mirrors them (InboxSnapshot).
	QueryInbox = "inbox"

	// UpdateCompleteTask completes a user task (CompleteTaskRequest); refused synchronously when wrong.
	UpdateCompleteTask = "completeTask"
	// UpdateRetryIncident resolves an incident and re-runs its element (RetryRequest).
	UpdateRetryIncident = "retryIncident"
	// UpdateSetVariables changes process variables of a running instance (SetVariablesRequest).
	UpdateSetVariables = "setVariables"
	// UpdateSuspend and UpdateResume pause and continue an instance (OperatorRequest).
	UpdateSuspend = "suspend"
	UpdateResume  = "resume"
	// UpdateCancel ends an instance as cancelled after its cleanup (OperatorRequest).
	UpdateCancel = "cancel"
	// UpdateAssignTask reassigns, unassigns, claims or unclaims a user task (AssignRequest).
	UpdateAssignTask = "assignTask"
	// UpdateSkipTask completes a failed task with a given output (SkipRequest).
	UpdateSkipTask = "skipTask"
	// UpdateCorrelate delivers a message an instance waits for, on someone's behalf (CorrelateRequest).
	UpdateCorrelate = "correlate"
	// UpdateMove cancels tokens at some elements and activates others (MoveRequest).
	UpdateMove = "move"
	// UpdateMigrate moves the instance to another version of its process (MigrateRequest).
	UpdateMigrate = "migrate"
	// UpdateDeliverMessage delivers a BPMN message (MessageRequest) and answers its MessageOutcome:
	// whether a subscription consumed it or it was buffered for one to come.
	UpdateDeliverMessage = "deliverMessage"

	// SignalMessage delivers a BPMN message (MessageRequest) to the instance.
	SignalMessage = "message"
	// SignalChildDone is how a child instance started by a call activity reports its end (ChildDone) to
	// its parent, which may have continued as new since it started the child.
	SignalChildDone = "childDone"

	// ErrorTypeBPMN is the ApplicationError type carrying a BPMN error code (in its details) from a task
	// handler or a child process, so error boundary events can catch it.
	ErrorTypeBPMN = "BpmnError"
	// ErrorTypeNoTask refuses a completion of a user task the instance does not have open.
	ErrorTypeNoTask = "NoOpenUserTask"
	// ErrorTypeNotYourTask refuses a completion by a TaskCaller the task is neither assigned nor
	// offered to; its details hold the task's element.
	ErrorTypeNotYourTask = "NotYourTask"
)

// Instance states, as shown by queries and the RapportState search attribute.
const (
	StateRunning   = "running"
	StateWaiting   = "waiting"
	StateIncident  = "incident"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
	// StateSuspended is an instance an operator paused (UpdateSuspend).
	StateSuspended = "suspended"
	// StateTerminated and StateFailed are never set by the instance itself: Temporal ended it (an
	// operator's terminate, a child's unhandled error). The API derives them from the execution status.
	StateTerminated = "terminated"
	StateFailed     = "failed"
)

// Ref names a published process version in the definition store; Version 0 means the latest.
type Ref struct {
	Key     string `json:"key"`
	Version int    `json:"version,omitempty"`
}

// Options tune the interpreter per instance; zero fields take the documented defaults.
type Options struct {
	// StepBudget is how many elements may be entered without an outside event (timer, message, person,
	// child) before the token raises an incident; default 1000.
	StepBudget int `json:"stepBudget,omitempty"`
	// HistoryLimit bounds the element history kept in the state (oldest dropped); default 500.
	HistoryLimit int `json:"historyLimit,omitempty"`
	// ContinueAfterEvents continues as new once the history has this many events, even if the server
	// does not suggest it yet; default 8000.
	ContinueAfterEvents int `json:"continueAfterEvents,omitempty"`
	// TaskTimeout is the start-to-close timeout of one task attempt; default 5 minutes.
	TaskTimeout time.Duration `json:"taskTimeout,omitempty"`
	// MessageTTL is how long a message nobody waits for stays buffered when its request names no
	// time to live; default one hour.
	MessageTTL time.Duration `json:"messageTtl,omitempty"`
	// MessagesPerName bounds the buffered messages of one name (the oldest are dropped); default 10.
	// At most 100 messages are buffered in all.
	MessagesPerName int `json:"messagesPerName,omitempty"`
	// ExternalTaskQueue is the Temporal task queue of external tasks (service tasks of types Rapport
	// does not run) whose task names no queue in its taskQueue header; default ExternalTaskQueue.
	ExternalTaskQueue string `json:"externalTaskQueue,omitempty"`
	// ExternalTaskTimeout is the start-to-close timeout of one attempt of an external task: how long
	// a worker may hold it; default 24 hours.
	ExternalTaskTimeout time.Duration `json:"externalTaskTimeout,omitempty"`
}

// DefaultMessageTTL is how long a message nobody waits for stays buffered by default.
const DefaultMessageTTL = time.Hour

// maxBuffered bounds the messages an instance buffers in all.
const maxBuffered = 100

func (o Options) withDefaults() Options {
	if o.StepBudget <= 0 {
		o.StepBudget = 1000
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = 500
	}
	if o.ContinueAfterEvents <= 0 {
		o.ContinueAfterEvents = 8000
	}
	if o.TaskTimeout <= 0 {
		o.TaskTimeout = 5 * time.Minute
	}
	if o.MessageTTL <= 0 {
		o.MessageTTL = DefaultMessageTTL
	}
	if o.ExternalTaskQueue == "" {
		o.ExternalTaskQueue = ExternalTaskQueue
	}
	if o.ExternalTaskTimeout <= 0 {
		o.ExternalTaskTimeout = DefaultExternalTaskTimeout
	}
	if o.MessagesPerName <= 0 {
		o.MessagesPerName = 10
	}
	return o
}

// Input starts (or continues) one process instance.
type Input struct {
	// Model is the compiled process; when nil it is loaded from the DefinitionStore by Ref.
	Model *bpmn.Model `json:"model,omitempty"`
	// Ref identifies the definition (also used for search attributes when Model is given).
	Ref Ref `json:"ref"`
	// Variables are the start variables.
	Variables map[string]any `json:"variables,omitempty"`
	// BusinessKey correlates messages and lists instances.
	BusinessKey string `json:"businessKey,omitempty"`
	// Entity and RecordID name the record a record-triggered instance is about.
	Entity   string `json:"entity,omitempty"`
	RecordID string `json:"recordId,omitempty"`
	// StartElement picks the start event (timer/message/record starts); empty = the none start or the
	// first start event.
	StartElement string `json:"startElement,omitempty"`
	// Options tune budgets and limits.
	Options Options `json:"options,omitzero"`
	// Child is set for instances started by a call activity: an unhandled BPMN error then ends the
	// child with that error so the caller's boundary can catch it.
	Child bool `json:"child,omitempty"`
	// Resume is the state carried across continue-as-new.
	Resume *State `json:"resume,omitempty"`
	// Parent is set for instances started by a call activity of a parent at behaviour level 1 or later:
	// the child reports its end to the parent through SignalChildDone, so the parent may continue as
	// new while the child runs.
	Parent *ParentLink `json:"parent,omitempty"`
}

// ParentLink names the call activity subscription of the parent instance that waits for a child.
type ParentLink struct {
	WorkflowID string `json:"workflowId"`
	Sub        int    `json:"sub"`
}

// ChildDone is the payload of SignalChildDone: the child's variables when it completed, or the BPMN
// error (Code) or failure (Failure) it ended with.
type ChildDone struct {
	Sub       int            `json:"sub"`
	Variables map[string]any `json:"variables,omitempty"`
	Code      string         `json:"code,omitempty"`
	Failure   string         `json:"failure,omitempty"`
	Message   string         `json:"message,omitempty"`
}

// Result is what a finished instance returns (a call activity reads Variables).
type Result struct {
	State      string         `json:"state"`
	EndElement string         `json:"endElement,omitempty"`
	Variables  map[string]any `json:"variables,omitempty"`
}

// Token is one position of control flow in the process.
type Token struct {
	ID      int    `json:"id"`
	Node    int    `json:"node"`
	Element string `json:"element"`
	// Scope is the scope instance the token runs in.
	Scope int `json:"scope"`
	// Status is ready (about to enter Node), waiting (inside Node), joined (waiting at a join) or incident.
	Status string `json:"status"`
	// Flow is the sequence flow the token arrived by, -1 when none (joins count arrivals per flow).
	Flow int `json:"flow"`
	// Child is the scope instance of the sub-process this token is executing, 0 when none.
	Child int `json:"child,omitempty"`
	// Loop is the progress of a multi-instance activity.
	Loop *LoopState `json:"loop,omitempty"`
	// Parent is the multi-instance token an instance token belongs to (parallel loops), 0 otherwise;
	// Instance is the instance's 1-based position in the input collection.
	Parent   int `json:"parent,omitempty"`
	Instance int `json:"instance,omitempty"`
	// Vars are the token's local variables: the input element and loop counter of a multi-instance
	// instance, the input mappings of a sub-process. Expressions of the token and of the tokens inside
	// the scopes it hosts see them over the process variables; they end with the token's activity.
	Vars map[string]any `json:"vars,omitempty"`
	// Payload is the message (or error) a catching event was triggered with; its output mappings read
	// it when the token enters the event.
	Payload map[string]any `json:"payload,omitempty"`
	// Finished marks a token whose activity ended but whose completion raised an incident: 1 the output
	// mappings, 2 the multi-instance output element or completion condition; a retry re-runs only that
	// part with Result.
	Finished int `json:"finished,omitempty"`
	Result   any `json:"result,omitempty"`
	// Armed lists the boundary events armed for the activity the token is in, so a later iteration or
	// a retry does not arm them again (their timers keep their due times).
	Armed []int `json:"armed,omitempty"`
	// Inputs replace the evaluated input mappings of the next task the token runs (a retry with
	// changed task input, behaviour level 2).
	Inputs map[string]any `json:"inputs,omitempty"`
}

// LoopState is how far a multi-instance activity got: the collection it runs over, the index of the
// current element and the collected outputs.
type LoopState struct {
	Items []any `json:"items"`
	// Index is the current element of a sequential loop, the number of finished instances of a
	// parallel one.
	Index   int   `json:"index"`
	Results []any `json:"results,omitempty"`
	// Parallel marks a loop whose instances run at the same time as tokens of their own.
	Parallel bool `json:"parallel,omitempty"`
}

const (
	tokReady    = "ready"
	tokWaiting  = "waiting"
	tokJoined   = "joined"
	tokIncident = "incident"
)

// ScopeInstance is one running instance of the process scope, a sub-process or an event sub-process.
type ScopeInstance struct {
	ID     int `json:"id"`
	Scope  int `json:"scope"`
	Parent int `json:"parent,omitempty"`
	// Host is the token executing the sub-process, 0 for the process and event sub-processes.
	Host int `json:"host,omitempty"`
	// Event marks an event sub-process instance.
	Event bool `json:"event,omitempty"`
}

// Subscription is something a token or scope waits for: a timer, a message, an activity, a child
// process or a person.
type Subscription struct {
	ID   int    `json:"id"`
	Kind string `json:"kind"`
	// Token is the token waiting; 0 for event sub-process starts (which belong to Scope).
	Token int `json:"token,omitempty"`
	// Scope is the scope instance of an event sub-process start subscription.
	Scope int `json:"scope,omitempty"`
	// Node is the catching node: the token's own node, a boundary event, an event-based gateway's
	// target or an event sub-process start.
	Node    int       `json:"node"`
	FireAt  time.Time `json:"fireAt,omitzero"`
	Fired   int       `json:"fired,omitempty"`
	Message string    `json:"message,omitempty"`
	Key     string    `json:"key,omitempty"`
	// Child is the workflow id of the child instance a call activity runs.
	Child string `json:"child,omitempty"`
	// Since is when a timer was armed (behaviour level 2), so a changed duration is counted from then.
	Since time.Time `json:"since,omitzero"`
}

const (
	subTimer    = "timer"
	subMessage  = "message"
	subActivity = "activity"
	subChild    = "child"
	subUser     = "user"
)

// UserTask is an open task for a person, completed through UpdateCompleteTask.
type UserTask struct {
	ID              string    `json:"id"`
	Element         string    `json:"element"`
	Name            string    `json:"name,omitempty"`
	Token           int       `json:"token"`
	Assignee        string    `json:"assignee,omitempty"`
	CandidateGroups []string  `json:"candidateGroups,omitempty"`
	CandidateUsers  []string  `json:"candidateUsers,omitempty"`
	DueDate         time.Time `json:"dueDate,omitzero"`
	// Priority orders an inbox (0–100, higher first; zeebe:priorityDefinition, default 50 at behaviour
	// level 2, 0 before).
	Priority int              `json:"priority,omitempty"`
	FormKey  string           `json:"formKey,omitempty"`
	Fields   []bpmn.FormField `json:"fields,omitempty"`
	Created  time.Time        `json:"created"`
}

// Incident is a token stopped at an element until someone retries it (UpdateRetryIncident). Message is
// the cause as the failing part reported it (the task handler's error, not Temporal's wrapping);
// ErrorType, Attempts and LastFailure say more about a failed task or child.
type Incident struct {
	ID      int       `json:"id"`
	Token   int       `json:"token,omitempty"`
	Element string    `json:"element"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// ErrorType is the failure's type: the application error type a handler or Temporal reported
	// ("UnknownTaskType", "BpmnError", "StartToCloseTimeout", ...) or the Go type of the handler's error.
	ErrorType string `json:"errorType,omitempty"`
	// Attempts is how many attempts the task made before the incident.
	Attempts int `json:"attempts,omitempty"`
	// LastFailure is the workflow time of the last failed attempt.
	LastFailure time.Time `json:"lastFailure,omitzero"`
}

// Incident kinds.
const (
	IncidentTaskFailed     = "taskFailed"
	IncidentExpression     = "expression"
	IncidentStepBudget     = "stepBudget"
	IncidentUnhandledError = "unhandledError"
	IncidentNoPath         = "noPath"
	IncidentChildFailed    = "childFailed"
	IncidentUnsupported    = "unsupported"
)

// HistoryEntry records an element entered, left or cancelled at workflow time, and (behaviour level 2)
// timers fired, messages consumed, tasks completed and every operator action with who and why: the
// instance's timeline. Element is empty for what concerns the whole instance.
type HistoryEntry struct {
	Element string    `json:"element"`
	Event   string    `json:"event"`
	Token   int       `json:"token"`
	Time    time.Time `json:"time"`
	// By is who did it (a user ID) and Reason why, for people's and operators' actions.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Detail says more: the message name, the variables changed, the version migrated to.
	Detail string `json:"detail,omitempty"`
}

// MessageOutcome is what became of a message an instance received.
type MessageOutcome struct {
	Consumed bool `json:"consumed"`
	Buffered bool `json:"buffered"`
}

// MessageRequest is the payload of SignalMessage. TimeToLive is how long the message stays buffered
// when nobody waits for it: zero takes Options.MessageTTL, a negative value does not buffer it.
type MessageRequest struct {
	Name           string         `json:"name"`
	CorrelationKey string         `json:"correlationKey,omitempty"`
	Variables      map[string]any `json:"variables,omitempty"`
	TimeToLive     time.Duration  `json:"timeToLive,omitempty"`
}

// BufferedMessage is a message nobody waited for when it arrived, kept until Expires (zero: no
// expiry, for messages buffered by the first release).
type BufferedMessage struct {
	MessageRequest
	Expires time.Time `json:"expires,omitzero"`
}

// CompleteTaskRequest is the argument of UpdateCompleteTask. Reason is set when an operator completes
// the task on someone's behalf.
type CompleteTaskRequest struct {
	TaskID    string         `json:"taskId"`
	Variables map[string]any `json:"variables,omitempty"`
	By        string         `json:"by,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	// Caller, when set, is the person completing the task through the task API: the validator refuses
	// (ErrorTypeNotYourTask) one the task is neither assigned nor offered to, unless an operator. Unset
	// for a completion an operator's checked operation sends.
	Caller *TaskCaller `json:"caller,omitempty"`
}

// TaskCaller is who completes a user task: IDs (user ID, e-mail) and Groups (teams, roles) are matched
// against the task's assignee and candidates; Operator is set for whoever operates the instance's
// process, who may complete any of its tasks.
type TaskCaller struct {
	IDs      []string `json:"ids"`
	Groups   []string `json:"groups,omitempty"`
	Operator bool     `json:"operator,omitempty"`
}

// CompleteTaskResult is the answer of UpdateCompleteTask from behaviour level 6 (none before): the
// element of the completed task.
type CompleteTaskResult struct {
	Element string `json:"element"`
}

// RetryRequest is the argument of UpdateRetryIncident; Variables are set before the element re-runs,
// Inputs (behaviour level 2) replace the task's evaluated input mappings for the next attempt.
type RetryRequest struct {
	IncidentID int            `json:"incidentId"`
	Variables  map[string]any `json:"variables,omitempty"`
	Inputs     map[string]any `json:"inputs,omitempty"`
	Operator
}

// SetVariablesRequest is the argument of UpdateSetVariables.
type SetVariablesRequest struct {
	Variables map[string]any `json:"variables"`
	Operator
}

// State is everything the instance knows; it is carried across continue-as-new and is what queries
// show. Slices are kept in creation order so walking them is deterministic.
type State struct {
	Status     string            `json:"status"`
	Variables  map[string]any    `json:"variables"`
	Tokens     []*Token          `json:"tokens,omitempty"`
	Scopes     []*ScopeInstance  `json:"scopes,omitempty"`
	Subs       []*Subscription   `json:"subs,omitempty"`
	UserTasks  []*UserTask       `json:"userTasks,omitempty"`
	Incidents  []*Incident       `json:"incidents,omitempty"`
	Messages   []BufferedMessage `json:"messages,omitempty"`
	History    []HistoryEntry    `json:"history,omitempty"`
	NextID     int               `json:"nextId"`
	Steps      int               `json:"steps"`
	EndElement string            `json:"endElement,omitempty"`
	Runs       int               `json:"runs"`
	// Level is the behaviour level the instance started with (see versions.go).
	Level int `json:"level,omitempty"`
	// Calendars are the business calendars the model's expressions use, read once at start.
	Calendars []calendar.Spec `json:"calendars,omitempty"`
	// Suspended is set while an operator holds the instance (UpdateSuspend): no element is entered,
	// what arrives waits.
	Suspended bool `json:"suspended,omitempty"`
	// TaskRecords are the Task records task.create made (behaviour level 2), closed when the instance
	// is cancelled.
	TaskRecords []string `json:"taskRecords,omitempty"`
	// Inbox is how far the materialised inbox mirrors the user tasks (behaviour level 2).
	Inbox InboxMark `json:"inbox,omitzero"`
	// Open are the elements tokens are active in, with when they entered (behaviour level 4): what the
	// element statistics measure durations from.
	Open []OpenElement `json:"open,omitempty"`
}

// Snapshot is the answer to QueryState: the state plus the element ids tokens rest at.
type Snapshot struct {
	State
	ProcessKey     string   `json:"processKey"`
	Version        int      `json:"version"`
	BusinessKey    string   `json:"businessKey,omitempty"`
	ActiveElements []string `json:"activeElements"`
}
