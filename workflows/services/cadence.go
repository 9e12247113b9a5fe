package services

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/process"
)

// CadenceProcess is the key of the follow-up cadence template.
const CadenceProcess = "follow-up-cadence"

// CadenceJob is one bulk start of follow-up cadences and how far it got.
type CadenceJob struct {
	ID     string `bson:"_id" json:"id"`
	Entity string `bson:"entity" json:"entity"`
	Filter string `bson:"filter,omitempty" json:"filter,omitempty"`
	// SpreadMinutes is the window the first follow-ups are spread over, so that ten thousand cadences do
	// not all fall due at the same minute.
	SpreadMinutes int `bson:"spreadMinutes" json:"spreadMinutes"`
	// PageSize is how many cadences start at once; the next page starts when these wait for their first
	// follow-up (or PageWait passed), so the job's progress means running, not queued.
	PageSize int    `bson:"pageSize" json:"pageSize" doc:"How many cadences start at once; the next page starts when these wait for their first follow-up."`
	State    string `bson:"state" json:"state" enum:"running,done,failed" doc:"done once every started cadence waits for its first follow-up (or the bounded wait for it passed); failed when the job could not go on."`
	// Started counts new cadences, Running those of them that reached their first timer (their record has
	// its nextFollowUpAt), Skipped records that have one already, Failed those that could not get one
	// (Errors names the first ten).
	Started   int       `bson:"started" json:"started" doc:"Cadences this job started."`
	Running   int       `bson:"running" json:"running" doc:"Started cadences that wait for their first follow-up: their record has its nextFollowUpAt."`
	Skipped   int       `bson:"skipped" json:"skipped" doc:"Records that had a cadence already."`
	Failed    int       `bson:"failed" json:"failed" doc:"Records that could not get a cadence (errors names the first ten)."`
	Errors    []string  `bson:"errors,omitempty" json:"errors,omitempty"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	CreatedBy string    `bson:"createdBy" json:"createdBy"`
	DoneAt    time.Time `bson:"doneAt,omitzero" json:"doneAt,omitzero"`
}

// Cadences starts follow-up cadences for existing contacts or open deals in bulk: every record of the
// entity matching the filter that has no cadence yet (no nextFollowUpAt, and not created in the last
// minute, when its own record-triggered cadence may still be starting) gets one, with its first
// follow-up moved by a jitter derived from its ID within the spread. Instances are named
// follow-up-cadence:api:bulk:<entity>:<id>, so running the same bulk start again starts nothing twice.
type Cadences struct {
	Records *records.Store
	Starter *process.Starter
	Jobs    *mongo.Collection
	Logger  *slog.Logger
	// PageSize is the default number of cadences started at once (DefaultCadencePage when zero).
	PageSize int
	// PageWait bounds how long the job waits for a page's cadences to reach their first timer before it
	// starts the next page anyway (DefaultCadencePageWait when zero).
	PageWait time.Duration

	wg      sync.WaitGroup
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
}

// DefaultCadencePage is how many cadences a bulk start keeps in flight unless told otherwise: enough to
// keep the engine busy, few enough that the single-process embedded stack does not thrash.
const DefaultCadencePage = 50

// DefaultCadencePageWait bounds the wait for one page's cadences to reach their first timer.
const DefaultCadencePageWait = 2 * time.Minute

// MaxCadencePage is the largest page a bulk start accepts.
const MaxCadencePage = 500

// ErrCadenceEntity refuses a bulk start for an entity without cadences.
var ErrCadenceEntity = errors.New("cadences run for contacts and deals")

// StartAll records the job and runs it in the background; Job reports its progress. pageSize is how many
// cadences start at once (zero: the Cadences' default).
func (c *Cadences) StartAll(ctx context.Context, entity, filter string, spreadMinutes, pageSize int, by string) (CadenceJob, error) {
	if entity != "contact" && entity != "deal" {
		return CadenceJob{}, ErrCadenceEntity
	}
	if spreadMinutes < 0 {
		spreadMinutes = 0
	}
	if pageSize <= 0 {
		pageSize = c.PageSize
	}
	if pageSize <= 0 {
		pageSize = DefaultCadencePage
	}
	pageSize = min(pageSize, MaxCadencePage)
	full := "nextFollowUpAt == nil"
	if entity == "deal" {
		full += ` and stage not in ["won", "lost"]`
	}
	if filter != "" {
		full += " and (" + filter + ")"
	}
	// Check the filter before anything starts.
	if _, err := c.Records.List(ctx, entity, records.ListParams{Filter: full, Limit: 1}); err != nil {
		return CadenceJob{}, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	job := CadenceJob{ID: uuid.NewString(), Entity: entity, Filter: filter, SpreadMinutes: spreadMinutes, PageSize: pageSize,
		State: "running", CreatedAt: now, CreatedBy: by}
	if _, err := c.Jobs.InsertOne(ctx, job); err != nil {
		return CadenceJob{}, fmt.Errorf("cadences: save job: %w", err)
	}
	full += fmt.Sprintf(" and createdAt < %q", now.Add(-time.Minute).Format(time.RFC3339Nano))
	// The job outlives the request but not Close.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.mu.Lock()
	if c.cancels == nil {
		c.cancels = map[string]context.CancelFunc{}
	}
	c.cancels[job.ID] = cancel
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.cancels, job.ID)
			c.mu.Unlock()
			cancel()
		}()
		c.run(runCtx, job, full)
	}()
	return job, nil
}

// Wait blocks until the running jobs ended (tests, shutdown).
func (c *Cadences) Wait() { c.wg.Wait() }

// Close stops the running jobs between two starts (each is saved as failed: "interrupted"; the cadences
// it started keep running, and starting the same bulk start again picks up the rest) and waits for them.
func (c *Cadences) Close() {
	c.mu.Lock()
	for _, cancel := range c.cancels {
		cancel()
	}
	c.mu.Unlock()
	c.Wait()
}

// Jitter is the delay of a record's first follow-up within the spread, stable for the record.
func Jitter(id string, spreadMinutes int) int {
	if spreadMinutes <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(spreadMinutes))
}

// run starts the cadences page by page: a page of PageSize records, then a wait until each of the page's
// cadences reached its first timer (its record has nextFollowUpAt; read by _id, which the embedded store
// serves without a scan) or PageWait passed, so that a page is in flight (and, when the engine lags, at
// most a page per PageWait starts) and Running counts cadences that run, not ones queued in the engine.
// Those still not waiting after PageWait are read again at the later pages' polls and, at the end,
// waited for once more with the same bound before the job is done.
func (c *Cadences) run(ctx context.Context, job CadenceJob, filter string) {
	save := func() {
		set := bson.D{{Key: "started", Value: job.Started}, {Key: "running", Value: job.Running}, {Key: "skipped", Value: job.Skipped},
			{Key: "failed", Value: job.Failed}, {Key: "errors", Value: job.Errors}, {Key: "state", Value: job.State}}
		if !job.DoneAt.IsZero() {
			set = append(set, bson.E{Key: "doneAt", Value: job.DoneAt})
		}
		// The last save must land after Close cancelled the job's context.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := c.Jobs.UpdateOne(sctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil && c.Logger != nil {
			c.Logger.Warn("cadence job progress", "job", job.ID, "error", err)
		}
	}
	fail := func(err error) {
		job.State = "failed"
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		job.Errors = append(job.Errors, err.Error())
	}
	var late []string // started, not yet waiting for their timer after PageWait
	cursor := ""
	for job.State == "running" {
		page, err := c.Records.List(ctx, job.Entity, records.ListParams{Filter: filter, Limit: max(job.PageSize, 200), Cursor: cursor})
		if err != nil {
			fail(err)
			break
		}
		for items := page.Items; len(items) > 0 && job.State == "running"; {
			n := min(job.PageSize, len(items))
			started := c.startPage(ctx, &job, items[:n])
			items = items[n:]
			save()
			// Late ones of earlier pages are checked again (and counted when they arrive) without holding
			// the page up: the bounded wait already throttles the start to a page per PageWait.
			pending, err := c.awaitTimers(ctx, &job, started, late)
			if err != nil {
				fail(err)
				break
			}
			late = pending
			save()
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if job.State == "running" && len(late) > 0 {
		if still, err := c.awaitTimers(ctx, &job, late, nil); err != nil {
			fail(err)
		} else if len(still) > 0 && c.Logger != nil {
			c.Logger.Warn("cadences not waiting for their first follow-up after the bounded wait", "job", job.ID, "count", len(still))
		}
	}
	if job.State == "running" {
		job.State = "done"
	}
	job.DoneAt = time.Now().UTC().Truncate(time.Millisecond)
	save()
}

// startPage starts the cadences of one page and returns the IDs of the records that got a new one.
func (c *Cadences) startPage(ctx context.Context, job *CadenceJob, items []records.Record) []string {
	var started []string
	for _, rec := range items {
		if ctx.Err() != nil {
			break
		}
		id, _ := rec["id"].(string)
		st, err := c.Starter.Start(ctx, process.StartRequest{Ref: process.Ref{Key: CadenceProcess}, Cause: process.CauseAPI,
			Once: "bulk:" + job.Entity + ":" + id, BusinessKey: id, Entity: job.Entity, RecordID: id,
			Variables: map[string]any{"entity": job.Entity, "recordId": id, "jitterMinutes": Jitter(id, job.SpreadMinutes)}})
		switch {
		case err != nil && ctx.Err() != nil:
			// Interrupted: neither started nor failed; awaitTimers reports the interruption.
		case err != nil:
			job.Failed++
			if len(job.Errors) < 10 {
				job.Errors = append(job.Errors, id+": "+err.Error())
			}
		case st.Existing:
			job.Skipped++
		default:
			job.Started++
			started = append(started, id)
		}
	}
	return started
}

// awaitTimers waits until the records ids have their nextFollowUpAt, which their cadence writes when it
// waits for the first follow-up, or until the page wait passed; the records late (of earlier pages) are
// read at the same polls without being waited for. Each record that arrives counts in job.Running; a
// record deleted meanwhile is dropped (its cadence ended). It returns the records of both still pending.
func (c *Cadences) awaitTimers(ctx context.Context, job *CadenceJob, ids, late []string) ([]string, error) {
	bound := c.PageWait
	if bound <= 0 {
		bound = DefaultCadencePageWait
	}
	deadline := time.Now().Add(bound)
	poll := 100 * time.Millisecond
	for {
		var err error
		if ids, err = c.arrived(ctx, job, ids); err != nil {
			return append(ids, late...), err
		}
		if late, err = c.arrived(ctx, job, late); err != nil {
			return append(ids, late...), err
		}
		if len(ids) == 0 || !time.Now().Before(deadline) {
			return append(ids, late...), nil
		}
		t := time.NewTimer(min(poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return append(ids, late...), ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, 2*time.Second)
	}
}

// arrived reads the records by _id, counts those whose cadence waits for the first follow-up in
// job.Running, and returns the others (a read that failed is tried again at the next poll).
func (c *Cadences) arrived(ctx context.Context, job *CadenceJob, ids []string) ([]string, error) {
	var still []string
	for i, id := range ids {
		rec, err := c.Records.Get(ctx, job.Entity, id)
		switch {
		case ctx.Err() != nil:
			return append(still, ids[i:]...), ctx.Err()
		case errors.Is(err, records.ErrNotFound):
		case err != nil:
			still = append(still, id)
		case rec["nextFollowUpAt"] != nil:
			job.Running++
		default:
			still = append(still, id)
		}
	}
	return still, nil
}

// Job reads a bulk start's progress.
func (c *Cadences) Job(ctx context.Context, id string) (CadenceJob, error) {
	var j CadenceJob
	if err := c.Jobs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&j); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return CadenceJob{}, records.ErrNotFound
		}
		return CadenceJob{}, fmt.Errorf("cadences: job %s: %w", id, err)
	}
	return j, nil
}
