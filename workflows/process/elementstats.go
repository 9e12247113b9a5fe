// Element statistics (behaviour level 4): the instance reports how long each element was active and
// where incidents were raised, so the process figures (engine/analytics, GET /api/v1/analytics/processes)
// and the monitor's heat map come from running instances.
//
// Workflow code does no I/O: runs are measured in workflow time as the timeline is written (note), kept
// in the runner and sent in batches through a local activity, which costs one marker event in the
// history per batch and no extra workflow task. A batch goes out when the instance starts to wait for
// something other than a task (a person, a timer, a message, a child, an external task's worker), when
// maxPendingRuns runs piled up, before it continues as new and when it ends; a process of service
// tasks in a row thus reports once, at its end. Batches are numbered per run, so the store applies a
// batch retried after it was written only once.

package process

import (
	"context"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/bpmn"
)

// ElementsActivityName is the local activity that hands an instance's element runs to the element
// statistics.
const ElementsActivityName = "rapport.process.elements"

// maxPendingRuns is how many runs an instance collects before it reports them even while tasks run;
// maxKeptRuns bounds what it keeps while reports fail (the oldest are dropped beyond it).
const (
	maxPendingRuns = 100
	maxKeptRuns    = 1000
)

// ElementRun is one execution of an element that ended (Duration is how long it was active, in
// workflow time, from when a token entered it until it left, retries and loop iterations included), or
// an incident raised at it.
type ElementRun struct {
	Element  string        `json:"element"`
	Version  int           `json:"version,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Incident bool          `json:"incident,omitempty"`
}

// ElementReport is one batch of runs of one run of an instance. Run ("<workflow id>/<run id>") and Seq
// (1, 2, … within the run) identify it; Final is the run's last report, after which the store forgets
// the run.
type ElementReport struct {
	Run     string       `json:"run"`
	Seq     int          `json:"seq"`
	Final   bool         `json:"final,omitempty"`
	Process string       `json:"process"`
	Runs    []ElementRun `json:"runs,omitempty"`
}

// ElementRecorder stores element reports; ElementStats (engine/analytics) implements it.
type ElementRecorder interface {
	RecordElements(ctx context.Context, rep ElementReport) error
}

// OpenElement is an element a token is active in since a moment of workflow time (State.Open).
type OpenElement struct {
	Token   int       `json:"token"`
	Element string    `json:"element"`
	Since   time.Time `json:"since"`
}

// RecordElements is the element activity: it hands a report to the recorder (nothing without one).
func (a *Activities) RecordElements(ctx context.Context, rep ElementReport) error {
	if a.Elements == nil {
		return nil
	}
	return a.Elements.RecordElements(ctx, rep)
}

// observe follows the timeline (behaviour level 4): an element a token entered is open until the token
// leaves it (a run with its duration), is cancelled or moved away (no run); an incident is a run of its
// own. Instances of a parallel multi-instance activity are not runs: their host's whole stay is.
func (r *runner) observe(element, what string, token int) {
	if !r.at(levelElementStats) || element == "" {
		return
	}
	switch what {
	case "entered":
		if token == 0 {
			return // an event sub-process's scope, entered for its start event's token
		}
		if t := r.token(token); t == nil || t.Instance > 0 {
			return
		}
		if i := slices.IndexFunc(r.st.Open, func(o OpenElement) bool { return o.Token == token }); i >= 0 {
			if r.st.Open[i].Element == element {
				return // entered again: a retry or the next iteration of a sequential loop
			}
			r.st.Open = slices.Delete(r.st.Open, i, i+1)
		}
		r.st.Open = append(r.st.Open, OpenElement{Token: token, Element: element, Since: r.now()})
	case "left":
		r.closeElement(token, element, true)
	case "cancelled", EventMovedFrom:
		r.closeElement(token, element, false)
	case "incident":
		r.addRun(ElementRun{Element: element, Version: r.in.Ref.Version, Incident: true})
	}
}

// closeElement ends the open element of a token, as a run when it finished.
func (r *runner) closeElement(token int, element string, finished bool) {
	if !r.at(levelElementStats) {
		return
	}
	i := slices.IndexFunc(r.st.Open, func(o OpenElement) bool { return o.Token == token && o.Element == element })
	if i < 0 {
		return
	}
	o := r.st.Open[i]
	r.st.Open = slices.Delete(r.st.Open, i, i+1)
	if finished {
		r.addRun(ElementRun{Element: o.Element, Version: r.in.Ref.Version, Duration: r.now().Sub(o.Since)})
	}
}

func (r *runner) addRun(run ElementRun) {
	r.elementRuns = append(r.elementRuns, run)
	if over := len(r.elementRuns) - maxKeptRuns; over > 0 {
		r.elementRuns = slices.Delete(r.elementRuns, 0, over)
	}
}

// reportElements sends the runs collected so far when the instance waits for something other than a
// task, when many piled up, or (final) before the run ends; a final report also tells the store to
// forget the run. A failed report keeps its runs for the next one.
func (r *runner) reportElements(final bool) {
	if !r.at(levelElementStats) {
		return
	}
	// Tokens removed without leaving (joined at a gateway, ended with the instance) close nothing.
	r.st.Open = slices.DeleteFunc(r.st.Open, func(o OpenElement) bool { return r.token(o.Token) == nil })
	if len(r.elementRuns) == 0 && (!final || r.elementSeq == 0) {
		return
	}
	if !final && len(r.elementRuns) < maxPendingRuns && r.tasksRunning() {
		return
	}
	r.elementSeq++
	info := workflow.GetInfo(r.ctx)
	rep := ElementReport{Run: info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID, Seq: r.elementSeq, Final: final,
		Process: r.in.Ref.Key, Runs: r.elementRuns}
	ctx := workflow.WithLocalActivityOptions(r.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
	if err := workflow.ExecuteLocalActivity(ctx, ElementsActivityName, rep).Get(ctx, nil); err != nil {
		workflow.GetLogger(r.ctx).Warn("element statistics not recorded; the next report sends them again", "runs", len(rep.Runs), "error", err)
		return
	}
	r.elementRuns = nil
}

// tasksRunning reports whether a task activity of the instance is in flight: its end comes soon, so
// the runs wait for it. An external task, which a worker outside Rapport may hold for hours, is a wait
// like a person's task.
func (r *runner) tasksRunning() bool {
	for _, s := range r.st.Subs {
		if s.Kind != subActivity {
			continue
		}
		if n := &r.model.Nodes[s.Node]; r.at(levelIssue13) && n.Kind == bpmn.KindServiceTask && n.Task != nil && n.Task.External {
			continue
		}
		return true
	}
	return false
}

// ElementStats records element reports in engine/analytics.
type ElementStats struct{ Engine *analytics.Engine }

// RecordElements converts and records a report.
func (s ElementStats) RecordElements(ctx context.Context, rep ElementReport) error {
	b := analytics.ElementBatch{Run: rep.Run, Seq: rep.Seq, Final: rep.Final}
	for _, run := range rep.Runs {
		b.Events = append(b.Events, analytics.ElementEvent{Process: rep.Process, Version: run.Version, Element: run.Element,
			Duration: run.Duration, Incident: run.Incident})
	}
	return s.Engine.ElementsFinished(ctx, b)
}
