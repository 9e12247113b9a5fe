// Incident causes: what a failed task or child reported, without Temporal's wrapping, so the instance
// shows "no such connector" rather than "activity error (type: rapport.process.task, ...)".

package process

import (
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// TaskFailure is the detail the task activity attaches to a failure: which attempt failed.
type TaskFailure struct {
	Attempt int `json:"attempt"`
}

// Failure types the interpreter names itself.
const (
	// ErrorTypeTaskFailed is the type of a handler error that names no type of its own.
	ErrorTypeTaskFailed = "TaskFailed"
	// ErrorTypeUnknownTask is the type of the failure of a task type without a handler.
	ErrorTypeUnknownTask = "UnknownTaskType"
)

// cause is what an incident shows about a failure.
type cause struct {
	typ      string
	message  string
	attempts int
}

// causeOf reads the real failure out of Temporal's activity or child workflow error: its type, its
// message and the number of attempts (reported by the activity, or the retry policy's maximum when
// the server gave up after it).
func causeOf(err error, n *bpmn.Node, attempt int) cause {
	c := cause{typ: ErrorTypeTaskFailed, message: err.Error(), attempts: attempt}
	var te *temporal.TimeoutError
	var ae *temporal.ApplicationError
	var term *temporal.TerminatedError
	switch {
	case errors.As(err, &te):
		c.typ = "Timeout" + timeoutName(te.TimeoutType())
		c.message = te.Error()
	case errors.As(err, &ae):
		c.typ, c.message = ae.Type(), ae.Message()
		var f TaskFailure
		if ae.HasDetails() && ae.Details(&f) == nil && f.Attempt > 0 {
			c.attempts = f.Attempt
		}
	case errors.As(err, &term):
		c.typ, c.message = "Terminated", term.Error()
	}
	var act *temporal.ActivityError
	if errors.As(err, &act) && act.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		c.attempts = int(retryPolicy(n).MaximumAttempts)
	}
	if c.attempts == 0 {
		c.attempts = 1
	}
	return c
}

func timeoutName(t enumspb.TimeoutType) string {
	switch t {
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return "StartToClose"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return "ScheduleToStart"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
		return "ScheduleToClose"
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "Heartbeat"
	}
	return ""
}

// errorType names the type of a handler's error: the type of an application error in its chain,
// else the Go type of the innermost error ("url.Error", "connector.Error"), or TaskFailed for errors
// whose Go type says nothing (errors.New, fmt.Errorf).
func errorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	root := err
	for {
		next := errors.Unwrap(root)
		if next == nil {
			break
		}
		root = next
	}
	switch name := strings.TrimPrefix(fmt.Sprintf("%T", root), "*"); name {
	case "errors.errorString", "fmt.wrapError", "fmt.wrapErrors", "errors.joinError":
		return ErrorTypeTaskFailed
	default:
		return name
	}
}
