package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// event is something that happened outside the token walk: a timer fired, an activity or child ended,
// a message arrived, a person completed a task, an operator retried an incident.
type event struct {
	kind     string
	sub      int
	output   map[string]any
	err      error
	message  *MessageRequest
	complete *CompleteTaskRequest
	retry    *RetryRequest
	setVars  map[string]any
	reply    *reply
	// attempt is the attempt a failed task reported (0 when unknown).
	attempt int
	// op is an operator's change, applied by the main loop (behaviour level independent: it exists only
	// when an operator sent it).
	op func() error
	// inboxSeq is the snapshot an inbox write finished for.
	inboxSeq int64
}

// reply is how the main loop answers an update handler waiting for its event to be applied.
type reply struct {
	done bool
	err  error
	// value is what the update answers besides its error (a message's outcome).
	value any
}

// runner is one execution of Run: the persisted State plus worker-local helpers (the event queue,
// cancel functions of timers and activities, the expression cache).
type runner struct {
	ctx     workflow.Context
	in      Input
	model   *bpmn.Model
	opts    Options
	st      *State
	x       *exprs
	queue   []event
	cancels map[int]workflow.CancelFunc
	lastSA  map[string]string
	failErr error
	done    bool
	reach   map[[2]int]bool
	preds   [][]int
	// work counts elements entered and events handled in this run; a run that did nothing never
	// continues as new (that would loop forever on a suggestion that outlives the run).
	work int
	// signals is the message channel, drained before continuing as new so no message is lost.
	signals workflow.ReceiveChannel
	// childDone receives the ends of child instances (behaviour level 1), drained likewise.
	childDone workflow.ReceiveChannel
	// level is the behaviour level of the instance (see versions.go).
	level int
	// cancelling are the cancellation requests sent to children an earlier run started; the run
	// neither ends nor continues as new before they are delivered.
	cancelling []workflow.Future
	// suspendPending is set from when a suspend is accepted until it is applied, so completions
	// validated in between are refused too.
	suspendPending bool
	// inboxBusy is set while an inbox write is in flight (inboxFuture); inboxAcked is the last
	// snapshot written; closing releases updates waiting for the inbox as the instance closes.
	inboxBusy   bool
	inboxFuture workflow.Future
	inboxAcked  int64
	closing     bool
	// elementRuns are the element runs not reported yet and elementSeq the number of this run's last
	// report (behaviour level 4, elementstats.go); replaying the history rebuilds both.
	elementRuns []ElementRun
	elementSeq  int
	// shared is the worker's models and compiled expressions, shared by its instances (nil: the
	// instance keeps its own, as when a test registers Run itself).
	shared *shared
}

// Run is the interpreter workflow: it runs one instance of any compiled BPMN process until an end event
// completes it, a terminate end event stops it or it is cancelled. Failures of tasks become incidents
// that wait for a retry; the workflow fails only for an unloadable model, or (child instances) with an
// unhandled BPMN error the caller may catch.
func Run(ctx workflow.Context, in Input) (Result, error) {
	return run(ctx, in, nil)
}

// run is Run with the worker's shared models and expressions (Register passes them).
func run(ctx workflow.Context, in Input, sh *shared) (Result, error) {
	r := &runner{ctx: ctx, in: in, opts: in.Options.withDefaults(), cancels: map[int]workflow.CancelFunc{}, shared: sh}
	r.level = behaviourLevel(ctx, in.Resume)
	if err := r.load(); err != nil {
		r.tellParent(Result{}, err)
		return Result{}, err
	}
	if r.at(levelIssue12) && r.in.BusinessKey == "" {
		r.in.BusinessKey = r.in.RecordID // record-started instances receive messages by their record
	}
	if !r.at(levelIssue12) {
		r.x = newExprs(r.model, false, nil, r.shared)
		if err := r.register(); err != nil {
			return Result{}, err
		}
		if in.Resume != nil {
			r.st = in.Resume
			r.st.Runs++
			r.resume()
		} else {
			r.start()
		}
	} else {
		if in.Resume != nil {
			r.st = in.Resume
			r.st.Runs++
		} else {
			r.st = &State{Status: StateRunning, Variables: map[string]any{}, Level: r.level}
		}
		if err := r.register(); err != nil {
			return Result{}, err
		}
		if in.Resume == nil && usesCalendars(r.model) {
			r.st.Calendars = r.loadCalendars()
		}
		r.x = newExprs(r.model, true, compileCalendars(r.st.Calendars), r.shared)
		if in.Resume != nil {
			r.resume()
		} else {
			r.start()
		}
	}
	for {
		r.drain()
		if r.done {
			break
		}
		r.publish()
		r.syncInbox()
		r.reportElements(false)
		if r.shouldContinueAsNew() {
			r.reportElements(true)
			next := r.in
			next.Model = r.model
			next.Resume = r.st
			next.Variables = nil
			return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
		}
		if err := workflow.Await(ctx, r.hasWork); err != nil {
			return r.cancelled(err)
		}
	}
	r.publish()
	if r.at(levelIssue12) {
		r.refuseQueued() // updates queued behind the end get their answer (and arrive no more)
		r.awaitCancels(ctx)
	}
	r.flushInbox(ctx)
	r.reportElements(true)
	r.closing = true
	// Let update handlers waiting for their event return before the instance closes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return r.cancelled(err)
	}
	res := Result{State: r.st.Status, EndElement: r.st.EndElement, Variables: r.st.Variables}
	r.tellParent(res, r.failErr)
	if r.failErr != nil {
		return Result{}, r.failErr
	}
	return res, nil
}

// awaitCancels waits until the cancellation requests to children were delivered.
func (r *runner) awaitCancels(ctx workflow.Context) {
	for _, f := range r.cancelling {
		_ = f.Get(ctx, nil) // a child that ended meanwhile needs no cancelling
	}
	r.cancelling = nil
}

// errEnded answers updates that reach an instance after its end.
var errEnded = errors.New("the instance has ended")

// refuseQueued answers every update still queued when the instance ended.
func (r *runner) refuseQueued() {
	for _, ev := range r.queue {
		if ev.reply != nil && !ev.reply.done {
			ev.reply.err, ev.reply.done = errEnded, true
		}
	}
	r.queue = nil
}

// tellParent reports the end of a child instance to the parent that started it (behaviour level 1
// parents), which may have continued as new since and then learns it only this way.
func (r *runner) tellParent(res Result, err error) {
	p := r.in.Parent
	if p == nil || p.WorkflowID == "" {
		return
	}
	done := ChildDone{Sub: p.Sub, Variables: res.Variables}
	if err != nil {
		var ae *temporal.ApplicationError
		switch {
		case errors.As(err, &ae) && ae.Type() == ErrorTypeBPMN:
			if ae.HasDetails() {
				_ = ae.Details(&done.Code)
			}
			if done.Code == "" {
				done.Code = "?"
			}
			done.Message = ae.Message()
		default:
			done.Failure, done.Message = errorType(err), err.Error()
		}
		done.Variables = nil
	}
	ctx, _ := workflow.NewDisconnectedContext(r.ctx)
	// The parent may have ended (a boundary event cancelled the call): then nobody listens.
	_ = workflow.SignalExternalWorkflow(ctx, p.WorkflowID, "", SignalChildDone, done).Get(ctx, nil)
}

// load makes sure the model is present, loading it by reference through a local activity.
func (r *runner) load() error {
	if r.in.Model != nil {
		r.model = r.shared.model(r.in.Model)
		if r.in.Ref.Key == "" {
			r.in.Ref.Key = r.model.ProcessID
		}
		return nil
	}
	ctx := workflow.WithLocalActivityOptions(r.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
	})
	// The result is LoadResult, read with its model still encoded, so that the worker's instances of
	// one definition share one decoded model.
	var res struct {
		Model   json.RawMessage `json:"model"`
		Version int             `json:"version"`
	}
	if err := workflow.ExecuteLocalActivity(ctx, LoadActivityName, r.in.Ref).Get(ctx, &res); err != nil {
		return fmt.Errorf("load process %s: %w", r.in.Ref.Key, err)
	}
	if len(res.Model) == 0 || string(res.Model) == "null" {
		return temporal.NewNonRetryableApplicationError("definition store returned no model", "NoModel", nil)
	}
	m, err := r.shared.decodeModel(res.Model)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "NoModel", err)
	}
	r.model = m
	r.in.Ref.Version = res.Version
	return nil
}

// register installs queries, updates and the message signal.
func (r *runner) register() error {
	if err := workflow.SetQueryHandler(r.ctx, QueryState, func() (Snapshot, error) {
		return r.snapshot(), nil
	}); err != nil {
		return fmt.Errorf("set state query: %w", err)
	}
	if err := workflow.SetQueryHandler(r.ctx, QueryUserTasks, func() ([]*UserTask, error) {
		return r.st.UserTasks, nil
	}); err != nil {
		return fmt.Errorf("set user task query: %w", err)
	}
	if err := r.registerOperations(); err != nil {
		return err
	}
	var complete any = func(ctx workflow.Context, req CompleteTaskRequest) error {
		return r.enqueue(ctx, event{kind: "complete", complete: &req})
	}
	if r.at(levelInboxLocal) {
		complete = func(ctx workflow.Context, req CompleteTaskRequest) (CompleteTaskResult, error) {
			var res CompleteTaskResult
			if u := r.userTask(req.TaskID); u != nil {
				res.Element = u.Element
			}
			return res, r.enqueue(ctx, event{kind: "complete", complete: &req})
		}
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateCompleteTask, complete,
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req CompleteTaskRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			// Unknown task and caller first: the task API answers them 404 and 403 (or, for an
			// operator, asks again).
			if _, err := r.completionTask(req); err != nil {
				return err
			}
			if r.suspended() {
				return ErrSuspended
			}
			return r.validateCompletion(req)
		}}); err != nil {
		return fmt.Errorf("set complete update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateRetryIncident,
		func(ctx workflow.Context, req RetryRequest) error {
			return r.enqueue(ctx, event{kind: "retry", retry: &req})
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req RetryRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			in := r.incident(req.IncidentID)
			if in == nil {
				return fmt.Errorf("no open incident %d", req.IncidentID)
			}
			if err := r.checkRetryable(in); err != nil {
				return err
			}
			if len(req.Inputs) > 0 {
				if err := r.checkRetryInputs(req); err != nil {
					return err
				}
			}
			return r.validateVariables(req.Variables)
		}}); err != nil {
		return fmt.Errorf("set retry update: %w", err)
	}
	if r.at(levelOperations) {
		if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateSetVariables,
			func(ctx workflow.Context, req SetVariablesRequest) (SetVariablesResult, error) {
				return operate(r, ctx, func() (SetVariablesResult, error) { return r.setVariables(req) })
			}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req SetVariablesRequest) error {
				if err := r.ended(); err != nil {
					return err
				}
				return r.validateVariables(req.Variables)
			}}); err != nil {
			return fmt.Errorf("set variables update: %w", err)
		}
	} else if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateSetVariables,
		func(_ workflow.Context, req SetVariablesRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			r.queue = append(r.queue, event{kind: "setVars", setVars: req.Variables})
			return nil
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req SetVariablesRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			return r.validateVariables(req.Variables)
		}}); err != nil {
		return fmt.Errorf("set variables update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateDeliverMessage,
		func(ctx workflow.Context, req MessageRequest) (MessageOutcome, error) {
			ev := messageEvent(req)
			ev.reply = &reply{}
			if err := r.enqueue(ctx, ev); err != nil {
				return MessageOutcome{}, err
			}
			out, _ := ev.reply.value.(MessageOutcome)
			return out, nil
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req MessageRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			if req.Name == "" {
				return errors.New("a message needs a name")
			}
			return nil
		}}); err != nil {
		return fmt.Errorf("set message update: %w", err)
	}
	r.signals = listen(r, SignalMessage, messageEvent)
	if r.at(levelIssue12) {
		r.childDone = listen(r, SignalChildDone, childEvent)
	}
	return nil
}

// listen queues what arrives on a signal channel as events (ev turns a payload into its event).
func listen[T any](r *runner, name string, ev func(T) event) workflow.ReceiveChannel {
	ch := workflow.GetSignalChannel(r.ctx, name)
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		for {
			var v T
			if !ch.Receive(ctx, &v) {
				return
			}
			r.queue = append(r.queue, ev(v))
		}
	})
	return ch
}

// drainSignals queues what a signal channel holds without waiting (before continuing as new).
func drainSignals[T any](r *runner, ch workflow.ReceiveChannel, ev func(T) event) {
	for ch != nil {
		var v T
		if !ch.ReceiveAsync(&v) {
			return
		}
		r.queue = append(r.queue, ev(v))
	}
}

func messageEvent(m MessageRequest) event { return event{kind: "message", message: &m} }

// ended refuses updates once the instance has ended (behaviour level 1; the first release let them
// wait for an answer that never came).
func (r *runner) ended() error {
	if r.done && r.at(levelIssue12) {
		return errEnded
	}
	return nil
}

// enqueue hands an update to the main loop and waits until it was applied, so the caller learns when
// it lost a race (the task was completed or interrupted meanwhile).
func (r *runner) enqueue(ctx workflow.Context, ev event) error {
	if err := r.ended(); err != nil {
		return err
	}
	if ev.reply == nil {
		ev.reply = &reply{}
	}
	r.queue = append(r.queue, ev)
	if err := workflow.Await(ctx, func() bool { return ev.reply.done }); err != nil {
		return fmt.Errorf("wait for the instance: %w", err)
	}
	if ev.reply.err == nil {
		r.awaitInbox(ctx)
	}
	return ev.reply.err
}

// start creates the root scope and the first token (the state exists already at behaviour level 1).
func (r *runner) start() {
	if r.st == nil {
		r.st = &State{Status: StateRunning, Variables: map[string]any{}}
	}
	for k, v := range r.in.Variables {
		r.st.Variables[k] = v
	}
	now := workflow.Now(r.ctx)
	for _, d := range r.model.Variables {
		if _, ok := r.st.Variables[d.Name]; ok || d.Default == "" {
			continue
		}
		if v, err := r.x.eval(d.Default, r.st.Variables, nil, now); err == nil {
			r.st.Variables[d.Name] = v
		}
	}
	_ = r.x.coerce(r.st.Variables)
	root := r.newScope(0, 0, 0, false)
	start := r.pickStart()
	if start < 0 {
		r.raise(nil, r.model.ProcessID, IncidentNoPath, "the process has no start event")
		return
	}
	r.newToken(start, root.ID, -1)
	r.armScope(root)
}

func (r *runner) pickStart() int {
	starts := r.model.Scopes[0].Starts
	if r.in.StartElement != "" {
		for _, s := range starts {
			if r.model.Nodes[s].ID == r.in.StartElement {
				return s
			}
		}
	}
	for _, s := range starts {
		if r.model.Nodes[s].Kind == bpmn.KindStartNone {
			return s
		}
	}
	if len(starts) > 0 {
		return starts[0]
	}
	return -1
}

// resume re-arms the timers of a continued instance; messages and user tasks need nothing.
func (r *runner) resume() {
	_ = r.x.coerce(r.st.Variables)
	for _, s := range r.st.Subs {
		if s.Kind == subTimer {
			r.startTimer(s)
		}
	}
}

// drain walks ready tokens and queued events until nothing is left to do without waiting.
func (r *runner) drain() {
	for !r.done {
		if r.st.Suspended { // an operator holds the instance: only operations apply
			ev, ok := r.nextUnheld()
			if !ok {
				return
			}
			r.handle(ev)
			continue
		}
		if t := r.nextReady(); t != nil {
			r.enter(t)
			continue
		}
		if r.checkInclusiveJoins() {
			continue
		}
		if len(r.queue) == 0 {
			return
		}
		ev := r.queue[0]
		r.queue = r.queue[1:]
		r.handle(ev)
	}
}

func (r *runner) nextReady() *Token {
	for _, t := range r.st.Tokens {
		if t.Status == tokReady {
			return t
		}
	}
	return nil
}

func (r *runner) now() time.Time { return workflow.Now(r.ctx) }

func (r *runner) nextID() int {
	r.st.NextID++
	return r.st.NextID
}

func (r *runner) record(element, what string, token int) {
	r.note(element, what, token, Operator{}, "")
}

func (r *runner) newScope(scope, parent, host int, isEvent bool) *ScopeInstance {
	s := &ScopeInstance{ID: r.nextID(), Scope: scope, Parent: parent, Host: host, Event: isEvent}
	r.st.Scopes = append(r.st.Scopes, s)
	return s
}

func (r *runner) newToken(node, scope, flow int) *Token {
	t := &Token{ID: r.nextID(), Node: node, Element: r.model.Nodes[node].ID, Scope: scope, Status: tokReady, Flow: flow}
	r.st.Tokens = append(r.st.Tokens, t)
	return t
}

func (r *runner) token(id int) *Token {
	for _, t := range r.st.Tokens {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (r *runner) scope(id int) *ScopeInstance {
	for _, s := range r.st.Scopes {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (r *runner) sub(id int) *Subscription {
	for _, s := range r.st.Subs {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (r *runner) incident(id int) *Incident {
	for _, in := range r.st.Incidents {
		if in.ID == id {
			return in
		}
	}
	return nil
}

// raise records an incident; the token (if any) stops at its element until retried.
func (r *runner) raise(t *Token, element, kind, msg string) *Incident {
	in := &Incident{ID: r.nextID(), Element: element, Kind: kind, Message: msg, Time: r.now()}
	if t != nil {
		in.Token = t.ID
		t.Status = tokIncident
	}
	r.st.Incidents = append(r.st.Incidents, in)
	r.record(element, "incident", in.Token)
	workflow.GetLogger(r.ctx).Warn("process incident", "element", element, "kind", kind, "message", msg)
	return in
}

// handle applies one event.
func (r *runner) handle(ev event) {
	if ev.kind == "inbox" {
		r.inboxDone(ev.inboxSeq, ev.err)
		return
	}
	r.work++
	switch ev.kind {
	case "op":
		ev.reply.err = ev.op()
		ev.reply.done = true
	case "timer", "activity", "child":
		s := r.sub(ev.sub)
		if s == nil {
			return // cancelled meanwhile
		}
		switch ev.kind {
		case "timer":
			r.st.Steps = 0
			if r.at(levelOperations) {
				r.record(r.model.Nodes[s.Node].ID, EventTimerFired, s.Token)
			}
			r.fire(s, nil)
		case "activity":
			r.activityDone(s, ev.output, ev.err, ev.attempt)
		case "child":
			r.st.Steps = 0
			r.activityDone(s, ev.output, ev.err, 0)
		}
	case "message":
		r.st.Steps = 0
		out := r.deliver(*ev.message)
		if ev.reply != nil {
			ev.reply.value, ev.reply.done = out, true
		}
	case "complete":
		r.st.Steps = 0
		ev.reply.err = r.completeTask(*ev.complete)
		ev.reply.done = true
	case "retry":
		r.st.Steps = 0
		ev.reply.err = r.retry(*ev.retry)
		ev.reply.done = true
	case "setVars":
		r.merge(ev.setVars)
	}
}

// childEvent turns a child's report into the event its call activity waits for.
func childEvent(d ChildDone) event {
	ev := event{kind: "child", sub: d.Sub, output: d.Variables}
	switch {
	case d.Code != "":
		ev.err = temporal.NewNonRetryableApplicationError(d.Message, ErrorTypeBPMN, nil, d.Code)
	case d.Failure != "":
		ev.err = temporal.NewNonRetryableApplicationError(d.Message, d.Failure, nil)
	}
	return ev
}

func (r *runner) merge(vars map[string]any) {
	for _, k := range sortedKeys(vars) {
		r.st.Variables[k] = vars[k]
	}
	_ = r.x.coerce(r.st.Variables)
}

// retry resolves an incident: the token re-enters its element.
func (r *runner) retry(req RetryRequest) error {
	in := r.incident(req.IncidentID)
	if in == nil {
		return fmt.Errorf("incident %d was resolved meanwhile", req.IncidentID)
	}
	if len(req.Variables) > 0 {
		r.merge(req.Variables)
	}
	r.st.Incidents = slices.DeleteFunc(r.st.Incidents, func(o *Incident) bool { return o.ID == in.ID })
	if r.at(levelOperations) {
		r.note(in.Element, EventRetried, in.Token, req.Operator, "")
	} else {
		r.record(in.Element, "retried", in.Token)
	}
	if t := r.token(in.Token); t != nil {
		if len(req.Inputs) > 0 && r.at(levelOperations) {
			t.Inputs = req.Inputs
		}
		if r.at(levelIssue12) {
			r.retryToken(t)
			return nil
		}
		r.disarm(t)
		t.Status = tokReady
		return nil
	}
	for _, s := range slices.Clone(r.st.Scopes) {
		r.checkScope(s.ID)
	}
	return nil
}

// retryToken runs again what failed at a token (behaviour level 1): only the completion when the
// activity had ended, the arming of boundary events for the host of a parallel loop (its instances
// keep running), otherwise the element, whose boundary events keep their subscriptions and due times.
func (r *runner) retryToken(t *Token) {
	n := &r.model.Nodes[t.Node]
	switch {
	case t.Finished != 0:
		t.Status = tokWaiting
		r.finishActivity(t, n, t.Result)
	case t.Loop != nil && t.Loop.Parallel:
		t.Status = tokWaiting
		r.armBoundaries(t, n)
	default:
		r.dropWork(t, true)
		t.Status = tokReady
	}
}

// status summarises the instance for the RapportState search attribute.
func (r *runner) status() string {
	if r.done {
		return r.st.Status
	}
	if r.st.Suspended {
		return StateSuspended
	}
	if len(r.st.Incidents) > 0 {
		return StateIncident
	}
	for _, s := range r.st.Subs {
		if s.Kind == subActivity {
			return StateRunning
		}
	}
	return StateWaiting
}

func (r *runner) activeElements() []string {
	var out []string
	for _, t := range r.st.Tokens {
		if !slices.Contains(out, t.Element) {
			out = append(out, t.Element)
		}
	}
	slices.Sort(out)
	return out
}

func (r *runner) snapshot() Snapshot {
	st := *r.st
	st.Status = r.status()
	st.Open = nil // bookkeeping of the element statistics
	return Snapshot{State: st, ProcessKey: r.in.Ref.Key, Version: r.in.Ref.Version,
		BusinessKey: r.in.BusinessKey, ActiveElements: r.activeElements()}
}

// cancelled ends a cancelled instance: the search attributes still say so.
func (r *runner) cancelled(err error) (Result, error) {
	r.st.Status = StateCancelled
	r.done = true
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	r.ctx = dctx
	if r.at(levelIssue12) {
		// Children run with an abandon policy (so continue-as-new keeps them): cancel them and wait
		// until the requests are delivered.
		for _, s := range r.st.Subs {
			if s.Kind == subChild {
				r.cancelSub(s)
			}
		}
		r.closeTaskRecords("")
		r.awaitCancels(r.ctx)
		r.refuseQueued()
	}
	r.publish()
	r.flushInbox(r.ctx)
	r.reportElements(true)
	r.closing = true
	if errors.Is(err, workflow.ErrCanceled) || temporal.IsCanceledError(err) {
		return Result{State: StateCancelled, Variables: r.st.Variables}, err
	}
	return Result{}, fmt.Errorf("wait for events: %w", err)
}

func (r *runner) shouldContinueAsNew() bool {
	info := workflow.GetInfo(r.ctx)
	if r.work == 0 {
		return false
	}
	if !info.GetContinueAsNewSuggested() && info.GetCurrentHistoryLength() < r.opts.ContinueAfterEvents {
		return false
	}
	if r.inboxBusy {
		return false // continue once the inbox write is done (a later event)
	}
	for _, s := range r.st.Subs {
		// A task is short and cannot be waited for by another run; a child reports its end by signal
		// (behaviour level 1), so a long call activity no longer holds the history open.
		if s.Kind == subActivity || (s.Kind == subChild && !r.at(levelIssue12)) {
			return false
		}
	}
	drainSignals(r, r.signals, messageEvent)
	drainSignals(r, r.childDone, childEvent)
	if len(r.queue) > 0 || !workflow.AllHandlersFinished(r.ctx) {
		return false
	}
	for _, f := range r.cancelling {
		if !f.IsReady() {
			return false // continue once the children were told (a later event)
		}
	}
	r.cancelling = nil
	if r.at(levelIssue12) {
		r.expireMessages()
	}
	return true
}
