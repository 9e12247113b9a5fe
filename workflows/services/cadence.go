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
	SpreadMinutes int    `bson:"spreadMinutes" json:"spreadMinutes"`
	State         string `bson:"state" json:"state" enum:"running,done,failed"`
	// Started counts new cadences, Skipped records that have one already, Failed those that could not
	// get one (Errors names the first ten).
	Started   int       `bson:"started" json:"started"`
	Skipped   int       `bson:"skipped" json:"skipped"`
	Failed    int       `bson:"failed" json:"failed"`
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

	wg sync.WaitGroup
}

// ErrCadenceEntity refuses a bulk start for an entity without cadences.
var ErrCadenceEntity = errors.New("cadences run for contacts and deals")

// StartAll records the job and runs it in the background; Job reports its progress.
func (c *Cadences) StartAll(ctx context.Context, entity, filter string, spreadMinutes int, by string) (CadenceJob, error) {
	if entity != "contact" && entity != "deal" {
		return CadenceJob{}, ErrCadenceEntity
	}
	if spreadMinutes < 0 {
		spreadMinutes = 0
	}
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
	job := CadenceJob{ID: uuid.NewString(), Entity: entity, Filter: filter, SpreadMinutes: spreadMinutes, State: "running", CreatedAt: now, CreatedBy: by}
	if _, err := c.Jobs.InsertOne(ctx, job); err != nil {
		return CadenceJob{}, fmt.Errorf("cadences: save job: %w", err)
	}
	full += fmt.Sprintf(" and createdAt < %q", now.Add(-time.Minute).Format(time.RFC3339Nano))
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(context.WithoutCancel(ctx), job, full)
	}()
	return job, nil
}

// Wait blocks until the running jobs ended (tests, shutdown).
func (c *Cadences) Wait() { c.wg.Wait() }

// Jitter is the delay of a record's first follow-up within the spread, stable for the record.
func Jitter(id string, spreadMinutes int) int {
	if spreadMinutes <= 0 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(spreadMinutes))
}

func (c *Cadences) run(ctx context.Context, job CadenceJob, filter string) {
	save := func() {
		set := bson.D{{Key: "started", Value: job.Started}, {Key: "skipped", Value: job.Skipped}, {Key: "failed", Value: job.Failed},
			{Key: "errors", Value: job.Errors}, {Key: "state", Value: job.State}}
		if !job.DoneAt.IsZero() {
			set = append(set, bson.E{Key: "doneAt", Value: job.DoneAt})
		}
		if _, err := c.Jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil && c.Logger != nil {
			c.Logger.Warn("cadence job progress", "job", job.ID, "error", err)
		}
	}
	cursor := ""
	for {
		page, err := c.Records.List(ctx, job.Entity, records.ListParams{Filter: filter, Limit: 200, Cursor: cursor})
		if err != nil {
			job.State, job.Errors = "failed", append(job.Errors, err.Error())
			break
		}
		for _, rec := range page.Items {
			id, _ := rec["id"].(string)
			st, err := c.Starter.Start(ctx, process.StartRequest{Ref: process.Ref{Key: CadenceProcess}, Cause: process.CauseAPI,
				Once: "bulk:" + job.Entity + ":" + id, BusinessKey: id, Entity: job.Entity, RecordID: id,
				Variables: map[string]any{"entity": job.Entity, "recordId": id, "jitterMinutes": Jitter(id, job.SpreadMinutes)}})
			switch {
			case err != nil:
				job.Failed++
				if len(job.Errors) < 10 {
					job.Errors = append(job.Errors, id+": "+err.Error())
				}
			case st.Existing:
				job.Skipped++
			default:
				job.Started++
			}
		}
		save()
		if page.Next == "" || job.State == "failed" {
			break
		}
		cursor = page.Next
	}
	if job.State == "running" {
		job.State = "done"
	}
	job.DoneAt = time.Now().UTC().Truncate(time.Millisecond)
	save()
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
