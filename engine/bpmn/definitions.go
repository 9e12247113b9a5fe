package bpmn

import "github.com/rapportcrm/rapport/engine/expression"

// Namespaces Parse understands. Elements of other namespaces (DI, vendor extensions) are skipped.
const (
	// NamespaceBPMN is the BPMN 2.0 model namespace every executable document's root must use.
	NamespaceBPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
	// NamespaceZeebe is Camunda 8's extension namespace, accepted so Camunda Modeler files work unchanged.
	NamespaceZeebe = "http://camunda.org/schema/zeebe/1.0"
	// NamespaceRapport carries what Zeebe has no word for: typed variables, record triggers, form
	// fields, due dates, retry policies and rule sets.
	NamespaceRapport = "http://rapport.dev/schema/bpmn/1.0"

	nsBPMN    = NamespaceBPMN
	nsZeebe   = NamespaceZeebe
	nsRapport = NamespaceRapport
	nsBPMNDI  = "http://www.omg.org/spec/BPMN/20100524/DI"
	nsDC      = "http://www.omg.org/spec/DD/20100524/DC"
	nsDI      = "http://www.omg.org/spec/DD/20100524/DI"
	nsModeler = "http://camunda.org/schema/modeler/1.0"
)

// Definitions is the faithful, typed reading of one BPMN document: every process with its elements in
// document order plus the root-level messages and errors they reference. It is what Parse returns and
// what Validate and Compile consume; the DI (diagram layout) section is not kept.
type Definitions struct {
	// ID is the definitions element's id attribute (may be empty in hand-written files).
	ID string `json:"id,omitempty"`
	// Name is the optional name attribute.
	Name string `json:"name,omitempty"`
	// TargetNamespace is copied for round-tripping and display only.
	TargetNamespace string `json:"targetNamespace,omitempty"`
	// Exporter and ExporterVersion tell which modeler wrote the file (useful in error reports).
	Exporter        string `json:"exporter,omitempty"`
	ExporterVersion string `json:"exporterVersion,omitempty"`
	// ExecutionPlatform is modeler:executionPlatform ("Camunda Cloud" for Camunda Modeler 5 files).
	ExecutionPlatform string `json:"executionPlatform,omitempty"`
	// Processes holds every process in document order.
	Processes []*Process `json:"processes"`
	// Participants are the pools of a collaboration, each pointing at the process it shows.
	Participants []Participant `json:"participants,omitempty"`
	// Messages are the root-level message definitions that message events reference.
	Messages []Message `json:"messages,omitempty"`
	// Errors are the root-level error definitions that error events reference.
	Errors []ErrorDef `json:"errors,omitempty"`
	// Hash is the hex SHA-256 of the exact bytes parsed, used as the content hash of a published version.
	Hash string `json:"hash"`
}

// Process returns the process with the given id, or nil; a linear scan keeps Definitions free of maps.
func (d *Definitions) Process(id string) *Process {
	for _, p := range d.Processes {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Message returns the message definition with the given id, or nil.
func (d *Definitions) Message(id string) *Message {
	for i := range d.Messages {
		if d.Messages[i].ID == id {
			return &d.Messages[i]
		}
	}
	return nil
}

// ErrorDef returns the error definition with the given id, or nil (not named Error, which would read
// as the error interface).
func (d *Definitions) ErrorDef(id string) *ErrorDef {
	for i := range d.Errors {
		if d.Errors[i].ID == id {
			return &d.Errors[i]
		}
	}
	return nil
}

// Participant is a pool of a collaboration diagram; it matters only for naming processes.
type Participant struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	ProcessRef string `json:"processRef,omitempty"`
}

// Message is a root-level bpmn:message; CorrelationKey comes from zeebe:subscription and is the
// expression whose value must equal the key a correlating API call supplies.
type Message struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	CorrelationKey string `json:"correlationKey,omitempty"`
	// WhenChanged is rapport:whenChanged fields="..." on a record.<entity>.updated message: the fields
	// whose change is worth waking a waiting instance for. Empty means every change is delivered.
	WhenChanged []string `json:"whenChanged,omitempty"`
}

// ErrorDef is a root-level bpmn:error; Code is what error end events throw and error boundaries catch.
type ErrorDef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Code string `json:"code,omitempty"`
}

// Process is one bpmn:process with its declared variables, lanes and flow elements.
type Process struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Executable bool   `json:"executable"`
	Line       int    `json:"line,omitempty"`
	// Variables are the rapport:variable declarations that type expressions and start requests.
	Variables []VariableDecl `json:"variables,omitempty"`
	// Lanes are kept for display (which role works a step); they do not affect execution.
	Lanes []Lane `json:"lanes,omitempty"`
	// Elements and Flows are the top-level flow nodes and sequence flows in document order.
	Elements []*Element      `json:"elements"`
	Flows    []*SequenceFlow `json:"flows"`
	// Forms are zeebe:userTaskForm elements: Camunda Forms JSON embedded in the process and referenced
	// from user tasks as formKey "camunda-forms:bpmn:<id>".
	Forms []EmbeddedForm `json:"forms,omitempty"`
	// Unknown lists unrecognised rapport: extension elements on the process, reported by Validate.
	Unknown []string `json:"unknown,omitempty"`
	// Ignored lists vendor extensions of the process Rapport does not run (execution listeners),
	// reported as warnings.
	Ignored []string `json:"ignored,omitempty"`
}

// EmbeddedForm is one zeebe:userTaskForm; Schema is the Camunda Forms JSON text.
type EmbeddedForm struct {
	ID     string `json:"id"`
	Schema string `json:"schema"`
}

// Lane is a swim lane with the ids of the flow nodes it holds; nested lanes are kept in Lanes.
type Lane struct {
	ID           string   `json:"id"`
	Name         string   `json:"name,omitempty"`
	FlowNodeRefs []string `json:"flowNodeRefs,omitempty"`
	Lanes        []Lane   `json:"lanes,omitempty"`
}

// VariableDecl declares a process variable with its type, so expressions are type-checked and start or
// update requests with a wrong type are refused.
type VariableDecl struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	// Default is an optional expression evaluated when a start request omits the variable.
	Default string `json:"default,omitempty"`
	Line    int    `json:"line,omitempty"`
	// Shape, when known, types the variable field by field for expression checks (a rule set's result,
	// a task's result); it is not kept in the compiled model.
	Shape *expression.Type `json:"-"`
}

// SequenceFlow connects two flow nodes of the same scope; Condition is the expression source text
// (FEEL's leading "=" kept as written).
type SequenceFlow struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	SourceRef    string `json:"sourceRef"`
	TargetRef    string `json:"targetRef"`
	Condition    string `json:"condition,omitempty"`
	HasCondition bool   `json:"hasCondition,omitempty"`
	Line         int    `json:"line,omitempty"`
}

// Element is any BPMN flow node (event, activity, gateway). Type is the BPMN element's local name, so
// unsupported kinds survive parsing and are reported by Validate with their id.
type Element struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Type is the local name of the BPMN element, e.g. "startEvent", "serviceTask", "subProcess".
	Type string `json:"type"`
	Line int    `json:"line,omitempty"`
	// Incoming and Outgoing are the flow ids listed as child elements; sequence flows' own
	// sourceRef/targetRef are authoritative, these are kept for consistency checks only.
	Incoming []string `json:"incoming,omitempty"`
	Outgoing []string `json:"outgoing,omitempty"`
	// EventDefinitions holds the event's definitions in document order (several = unsupported "multiple").
	EventDefinitions []EventDefinition `json:"eventDefinitions,omitempty"`
	// ParallelMultiple is the attribute of events with several definitions; unsupported.
	ParallelMultiple bool `json:"parallelMultiple,omitempty"`
	// AttachedToRef is the host activity of a boundary event.
	AttachedToRef string `json:"attachedToRef,omitempty"`
	// CancelActivity is false for non-interrupting boundary events (BPMN default true).
	CancelActivity bool `json:"cancelActivity"`
	// IsInterrupting is false for non-interrupting event sub-process starts (BPMN default true).
	IsInterrupting bool `json:"isInterrupting"`
	// Default is the id of a gateway's default flow.
	Default string `json:"default,omitempty"`
	// TriggeredByEvent marks an event sub-process.
	TriggeredByEvent bool `json:"triggeredByEvent,omitempty"`
	// IsForCompensation marks compensation handlers; unsupported.
	IsForCompensation bool `json:"isForCompensation,omitempty"`
	// CalledElementAttr is BPMN's own calledElement attribute of a call activity (zeebe:calledElement wins).
	CalledElementAttr string `json:"calledElementAttr,omitempty"`
	// MessageRef is a receive task's messageRef attribute.
	MessageRef string `json:"messageRef,omitempty"`
	// Script is the bpmn:script body of a script task.
	Script *ScriptBody `json:"script,omitempty"`
	// Loop is set for multi-instance activities.
	Loop *LoopCharacteristics `json:"loop,omitempty"`
	// Elements and Flows are the contents of a sub-process, in document order.
	Elements []*Element      `json:"elements,omitempty"`
	Flows    []*SequenceFlow `json:"flows,omitempty"`
	// Unsupported lists BPMN child constructs Rapport does not run (e.g. standardLoopCharacteristics).
	Unsupported []string `json:"unsupported,omitempty"`
	// Extensions holds zeebe: and rapport: settings from extensionElements.
	Extensions
}

// EventDefinition is one event definition of an event. Type is the definition's local name without the
// "EventDefinition" suffix: timer, message, error, terminate, link, signal, escalation, ...
type EventDefinition struct {
	Type       string           `json:"type"`
	ID         string           `json:"id,omitempty"`
	Timer      *TimerDefinition `json:"timer,omitempty"`
	MessageRef string           `json:"messageRef,omitempty"`
	ErrorRef   string           `json:"errorRef,omitempty"`
	LinkName   string           `json:"linkName,omitempty"`
	// ExternalTopic is a Camunda 7 external task topic on a message event definition.
	ExternalTopic string `json:"externalTopic,omitempty"`
}

// TimerKind says how a timer's value is to be read.
type TimerKind string

// The three BPMN timer kinds.
const (
	// TimerDate fires once at an absolute time (RFC 3339 / ISO 8601 date-time or an expression).
	TimerDate TimerKind = "date"
	// TimerDuration fires once after a delay (ISO 8601 duration or an expression).
	TimerDuration TimerKind = "duration"
	// TimerCycle fires repeatedly (ISO 8601 repeating interval or a cron expression).
	TimerCycle TimerKind = "cycle"
)

// TimerDefinition is the raw content of a timerEventDefinition. Specs counts the time* children so that
// a definition with none or several is reported.
type TimerDefinition struct {
	Kind  TimerKind `json:"kind,omitempty"`
	Value string    `json:"value,omitempty"`
	Specs int       `json:"specs"`
}

// ScriptBody is a bpmn:script with its scriptFormat attribute.
type ScriptBody struct {
	Format string `json:"format,omitempty"`
	Text   string `json:"text,omitempty"`
}

// LoopCharacteristics combines bpmn:multiInstanceLoopCharacteristics and zeebe:loopCharacteristics.
type LoopCharacteristics struct {
	Sequential          bool   `json:"sequential,omitempty"`
	InputCollection     string `json:"inputCollection,omitempty"`
	InputElement        string `json:"inputElement,omitempty"`
	OutputCollection    string `json:"outputCollection,omitempty"`
	OutputElement       string `json:"outputElement,omitempty"`
	CompletionCondition string `json:"completionCondition,omitempty"`
}

// Extensions are the settings read from an element's extensionElements in the zeebe: and rapport:
// namespaces. Elements of other vendor namespaces are ignored.
type Extensions struct {
	TaskDefinition *TaskDefinition       `json:"taskDefinition,omitempty"`
	Inputs         []IOMapping           `json:"inputs,omitempty"`
	Outputs        []IOMapping           `json:"outputs,omitempty"`
	Headers        []Header              `json:"headers,omitempty"`
	Assignment     *AssignmentDefinition `json:"assignment,omitempty"`
	Form           *FormRef              `json:"form,omitempty"`
	CalledElement  *CalledElement        `json:"calledElement,omitempty"`
	CalledDecision *CalledDecision       `json:"calledDecision,omitempty"`
	ZeebeScript    *ZeebeScript          `json:"zeebeScript,omitempty"`
	// ZeebeDueDate is zeebe:taskSchedule dueDate; RapportDueDate is rapport:dueDate expression.
	ZeebeDueDate   string `json:"zeebeDueDate,omitempty"`
	RapportDueDate string `json:"rapportDueDate,omitempty"`
	// ZeebePriority is zeebe:priorityDefinition priority (a number from 0 to 100, or an expression).
	ZeebePriority string `json:"zeebePriority,omitempty"`
	// RecordTrigger makes a start event fire when a record is created or updated.
	RecordTrigger *RecordTrigger `json:"recordTrigger,omitempty"`
	// FormFields are the typed fields a user task's completion must supply.
	FormFields  []FormField        `json:"formFields,omitempty"`
	RetryPolicy *RetryPolicyDecl   `json:"retryPolicy,omitempty"`
	Ruleset     *RulesetRef        `json:"ruleset,omitempty"`
	Assignments []ScriptAssignment `json:"assignments,omitempty"`
	Unknown     []string           `json:"unknown,omitempty"`
	Properties  []Header           `json:"properties,omitempty"`
	// C7 holds Camunda 7 (camunda:) settings that Rapport maps or reports.
	C7 *Camunda7 `json:"camunda7,omitempty"`
	// Ignored names the vendor extensions Rapport does not run (listeners, ...), reported as warnings.
	Ignored []string `json:"ignored,omitempty"`
}

// TaskDefinition is zeebe:taskDefinition: the task type selects the built-in behaviour; Retries is the
// raw attribute (a number, or empty for the default).
type TaskDefinition struct {
	Type    string `json:"type"`
	Retries string `json:"retries,omitempty"`
}

// IOMapping is one zeebe:input or zeebe:output: Source is an expression, Target a variable name.
type IOMapping struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// Header is one zeebe:header (static key/value configuration of a task, e.g. the URL of an http task).
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AssignmentDefinition is zeebe:assignmentDefinition; values starting with "=" are expressions, others literals.
type AssignmentDefinition struct {
	Assignee        string `json:"assignee,omitempty"`
	CandidateGroups string `json:"candidateGroups,omitempty"`
	CandidateUsers  string `json:"candidateUsers,omitempty"`
}

// FormRef is zeebe:formDefinition (formKey, formId or externalReference).
type FormRef struct {
	FormKey           string `json:"formKey,omitempty"`
	FormID            string `json:"formId,omitempty"`
	ExternalReference string `json:"externalReference,omitempty"`
}

// CalledElement is zeebe:calledElement: the process id a call activity starts as a child instance.
type CalledElement struct {
	ProcessID                   string `json:"processId"`
	PropagateAllChildVariables  bool   `json:"propagateAllChildVariables,omitempty"`
	PropagateAllParentVariables bool   `json:"propagateAllParentVariables,omitempty"`
}

// CalledDecision is zeebe:calledDecision, read as a rule set key for business rule tasks.
type CalledDecision struct {
	DecisionID     string `json:"decisionId"`
	ResultVariable string `json:"resultVariable,omitempty"`
}

// ZeebeScript is zeebe:script: one expression whose value is stored in ResultVariable.
type ZeebeScript struct {
	Expression     string `json:"expression"`
	ResultVariable string `json:"resultVariable"`
}

// RecordTrigger is rapport:recordTrigger: start an instance when a record of Entity is created or
// updated and Condition (an expression over the record, optional) holds.
type RecordTrigger struct {
	Entity    string `json:"entity"`
	On        string `json:"on"`
	Condition string `json:"condition,omitempty"`
}

// FormField is rapport:field inside rapport:formFields: one typed value a user task's completion supplies.
type FormField struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Label    string `json:"label,omitempty"`
	Required bool   `json:"required,omitempty"`
	Line     int    `json:"line,omitempty"`
}

// RetryPolicyDecl is rapport:retryPolicy as written: durations in ISO 8601, numbers as text.
type RetryPolicyDecl struct {
	InitialInterval    string `json:"initialInterval,omitempty"`
	BackoffCoefficient string `json:"backoffCoefficient,omitempty"`
	MaximumInterval    string `json:"maximumInterval,omitempty"`
	MaximumAttempts    string `json:"maximumAttempts,omitempty"`
}

// RulesetRef is rapport:ruleset: the rule set a business rule task evaluates; Version empty = latest
// published at the time the process version is published.
type RulesetRef struct {
	Key            string `json:"key"`
	Version        string `json:"version,omitempty"`
	ResultVariable string `json:"resultVariable,omitempty"`
}

// ScriptAssignment is rapport:assign: evaluate Expression and store the value in Target.
type ScriptAssignment struct {
	Target     string `json:"target"`
	Expression string `json:"expression"`
}
