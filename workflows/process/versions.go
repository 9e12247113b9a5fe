package process

import "go.temporal.io/sdk/workflow"

// Behaviour changes of the interpreter after its first release go behind workflow.GetVersion, so that
// running instances replay with the code that started them while new ones take the new path. The
// interpreter asks once per run, under one change id, which behaviour level the instance runs at, and
// every changed code path reads it through at:
//
//	if r.at(levelIssue12) { /* new behaviour */ } else { /* behaviour of the first release */ }
//
// One change id with numbered levels (rather than one id per change) keeps the cost at one marker
// and one search attribute upsert per run, whatever the number of changes. A new batch of changes adds
// a level below (never reused, never renumbered) and raises levelLatest. The level is carried across
// continue-as-new in State.Level, so an instance keeps the behaviour it started with for its whole life.
//
// The recorded histories in workflows/testdata are replayed by TestReplay; a change without a level
// check makes that test fail. When every instance started before a level has ended, the old branches
// may go (raise minSupported in the GetVersion call).
const (
	// interpreterChange is the one GetVersion change id of the interpreter.
	interpreterChange = "rapport-process"

	// levelFirstRelease is the behaviour of the first release (histories without a marker).
	levelFirstRelease = 0
	// levelIssue12 fixes the review of issue 12: updates queued behind the end are answered; bounded
	// assignee search attributes; local variable scopes for multi-instance (parallel sub-processes and
	// script tasks run in parallel); retries keep loops and boundary timers; outputs after event-based
	// gateways; dotted output targets; business calendars in expressions; names the process assigns are
	// nil until set; the BPMN 2.0 inclusive join; message TTLs and caps; message variables only through
	// output mappings; the business key of record-started instances; continue-as-new while call
	// activities run; incident causes.
	levelIssue12 = 1
	// levelOperations is issue 15: the timeline records timers fired, messages consumed, completions and
	// operator actions with who and why; user tasks are mirrored into the inbox store through an
	// activity and carry a priority; incidents are searchable (RapportIncident); Task records the
	// instance created are closed when it is cancelled; retries may replace a task's input; timers
	// remember when they were armed.
	levelOperations = 2
	// levelIssue13 runs service tasks of types Rapport does not run as external tasks (an activity of
	// the type's name on the external task queue, whose result variables are merged when the task
	// maps no outputs) rather than as incidents of the generic task activity.
	levelIssue13 = 3
	// levelElementStats is issue 19: the instance reports how long each element was active and where
	// incidents were raised to the element statistics (elementstats.go), through a local activity.
	levelElementStats = 4
	// levelUncaughtRetry: a BPMN error that no boundary or event sub-process catches leaves its token
	// at the element that threw it, with the incident on that token, so retrying the incident runs the
	// task (or call activity, or loop instance) again; an error end event's incident, which would only
	// throw again, refuses the retry with what to do instead. Before, the token was dropped and a retry
	// ended the instance "completed" with no end element.
	levelUncaughtRetry = 5
	// levelInboxLocal is issue 20: the inbox is written through a local activity, in the workflow task
	// that changed the user tasks, so an update that waits for the inbox (a completion, a claim) is
	// answered in that one workflow task instead of after an activity task and a second workflow task;
	// and a completion answers with the element of the task it completed (CompleteTaskResult).
	levelInboxLocal = 6
	// levelLatest is the level new instances run at.
	levelLatest = levelInboxLocal
)

// behaviourLevel asks Temporal which level this run executes (a marker in new histories, the first
// release when replaying a history without one); a continued instance keeps the level it started with.
func behaviourLevel(ctx workflow.Context, resume *State) int {
	v := int(workflow.GetVersion(ctx, interpreterChange, workflow.DefaultVersion, levelLatest))
	if v < levelFirstRelease {
		v = levelFirstRelease
	}
	if resume != nil && resume.Level < v {
		v = resume.Level
	}
	return v
}

// at reports whether the instance runs with the behaviour of the given level.
func (r *runner) at(level int) bool { return r.level >= level }
