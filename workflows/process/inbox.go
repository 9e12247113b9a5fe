// The inbox mirror: at behaviour level 2 the instance writes its open user tasks to the inbox store
// through an activity whenever they change (created, claimed, reassigned, completed, cancelled), so an
// inbox is read from one store instead of querying every instance; from level 6 through a local
// activity, in the workflow task that made the change.

package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/inbox"
)

// InboxActivityName is the activity that writes an instance's user tasks to the inbox store.
const InboxActivityName = "rapport.process.inbox"

// InboxSnapshot is every open user task of one instance at one moment. Seq grows with every snapshot an
// instance sends, so the store applies a snapshot only when it is newer than what it holds: writes are
// idempotent and a late retry of an older one changes nothing. An instance that ended sends Ended with no
// tasks.
type InboxSnapshot struct {
	Instance    string      `json:"instance"`
	ProcessKey  string      `json:"processKey"`
	Version     int         `json:"version"`
	BusinessKey string      `json:"businessKey,omitempty"`
	Entity      string      `json:"entity,omitempty"`
	RecordID    string      `json:"recordId,omitempty"`
	Seq         int64       `json:"seq"`
	Suspended   bool        `json:"suspended,omitempty"`
	Ended       bool        `json:"ended,omitempty"`
	Tasks       []*UserTask `json:"tasks,omitempty"`
}

// InboxWriter stores inbox snapshots; engine/inbox.Store implements it.
type InboxWriter interface {
	Apply(ctx context.Context, s InboxSnapshot) error
}

// InboxMark is how far the inbox mirrors the instance: Seq is the last snapshot sent, Hash what it held.
type InboxMark struct {
	Seq  int64  `json:"seq,omitempty"`
	Hash string `json:"hash,omitempty"`
}

// WriteInbox is the inbox activity: it applies a snapshot to the store (nothing without one configured).
func (a *Activities) WriteInbox(ctx context.Context, s InboxSnapshot) error {
	if a.Inbox == nil {
		return nil
	}
	return a.Inbox.Apply(ctx, s)
}

// inboxSnapshot is the instance's user tasks as the inbox shows them (forms come from the model).
func (r *runner) inboxSnapshot() InboxSnapshot {
	s := InboxSnapshot{Instance: workflow.GetInfo(r.ctx).WorkflowExecution.ID, ProcessKey: r.in.Ref.Key,
		Version: r.in.Ref.Version, BusinessKey: r.in.BusinessKey, Entity: r.in.Entity, RecordID: r.in.RecordID,
		Suspended: r.st.Suspended, Ended: r.done}
	if !r.done {
		for _, u := range r.st.UserTasks {
			c := *u
			c.Fields = nil
			s.Tasks = append(s.Tasks, &c)
		}
	}
	return s
}

// inboxHash fingerprints what the inbox shows of the instance, to send only changes.
func inboxHash(s InboxSnapshot) string {
	s.Seq = 0
	raw, _ := json.Marshal(s)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:12])
}

// inboxWanted is the sequence number the inbox must reach to mirror the instance as it is now: the
// last one sent, or the next when what it shows changed since.
func (r *runner) inboxWanted() int64 {
	if !r.at(levelOperations) {
		return 0
	}
	if snap := r.inboxSnapshot(); !r.inboxUnused(snap) && inboxHash(snap) != r.st.Inbox.Hash {
		return r.st.Inbox.Seq + 1
	}
	return r.st.Inbox.Seq
}

// inboxUnused reports an instance that never had a user task: the inbox holds nothing of it.
func (r *runner) inboxUnused(snap InboxSnapshot) bool {
	return r.st.Inbox.Seq == 0 && len(snap.Tasks) == 0
}

// syncInbox sends the user tasks to the inbox store when they changed, one write at a time (the next
// waits for the one in flight, then sends whatever is current), so writes of one instance never race.
func (r *runner) syncInbox() {
	if !r.at(levelOperations) || r.inboxBusy {
		return
	}
	snap := r.inboxSnapshot()
	if r.inboxUnused(snap) {
		return
	}
	h := inboxHash(snap)
	if h == r.st.Inbox.Hash {
		return
	}
	r.st.Inbox.Seq++
	r.st.Inbox.Hash = h
	snap.Seq = r.st.Inbox.Seq
	r.inboxBusy = true
	ctx, _ := workflow.NewDisconnectedContext(r.ctx) // the last write of a cancelled instance too
	// Bounded: an update waiting for its write is answered within a minute or two even when the
	// store is down; the next change (or POST /api/v1/tasks/rebuild) brings the mirror back.
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 15 * time.Second, MaximumAttempts: 8}
	seq := snap.Seq
	if r.at(levelInboxLocal) {
		// In the workflow task that changed the tasks: no activity task to dispatch, and the update
		// waiting for the write is answered in this same workflow task.
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: 2 * time.Minute, RetryPolicy: retry,
		})
		r.inboxFuture = workflow.ExecuteLocalActivity(ctx, InboxActivityName, snap)
	} else {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry})
		r.inboxFuture = workflow.ExecuteActivity(ctx, InboxActivityName, snap)
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		err := r.inboxFuture.Get(ctx, nil)
		r.queue = append(r.queue, event{kind: "inbox", inboxSeq: seq, err: err})
	})
}

// inboxDone notes a finished write; a failed one is written again with the next change.
func (r *runner) inboxDone(seq int64, err error) {
	r.inboxBusy = false
	r.inboxAcked = seq
	if err != nil {
		workflow.GetLogger(r.ctx).Warn("inbox write failed; the next change writes again", "seq", seq, "error", err)
		r.st.Inbox.Hash = ""
	}
}

// awaitInbox waits (in an update handler) until the inbox mirrors the instance as it was when the
// update was applied, so whoever reads the inbox next sees the change.
func (r *runner) awaitInbox(ctx workflow.Context) {
	if !r.at(levelOperations) {
		return
	}
	want := r.inboxWanted()
	_ = workflow.Await(ctx, func() bool { return r.inboxAcked >= want || r.closing })
}

// flushInbox writes the final snapshot of an ending instance and waits for it.
func (r *runner) flushInbox(ctx workflow.Context) {
	if !r.at(levelOperations) {
		return
	}
	for i := 0; i < 3; i++ {
		if r.inboxBusy {
			_ = r.inboxFuture.Get(ctx, nil)
			r.inboxBusy = false
		}
		r.syncInbox()
		if !r.inboxBusy {
			return
		}
	}
}

// InboxStore writes the interpreter's snapshots to engine/inbox.
type InboxStore struct{ Store *inbox.Store }

// Apply converts and writes a snapshot.
func (s InboxStore) Apply(ctx context.Context, snap InboxSnapshot) error {
	return s.Store.Apply(ctx, snap.Inbox())
}

// Inbox is the snapshot as engine/inbox stores it.
func (s InboxSnapshot) Inbox() inbox.Snapshot {
	out := inbox.Snapshot{Instance: s.Instance, ProcessKey: s.ProcessKey, Version: s.Version, BusinessKey: s.BusinessKey,
		Entity: s.Entity, RecordID: s.RecordID, Seq: s.Seq, Suspended: s.Suspended, Ended: s.Ended}
	for _, t := range s.Tasks {
		out.Tasks = append(out.Tasks, inbox.Task{ID: t.ID, Element: t.Element, Name: t.Name, Assignee: t.Assignee,
			CandidateGroups: t.CandidateGroups, CandidateUsers: t.CandidateUsers, DueDate: t.DueDate, Priority: t.Priority,
			FormKey: t.FormKey, Created: t.Created})
	}
	return out
}
