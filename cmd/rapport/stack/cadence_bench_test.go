package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/cmd/rapport/stack"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/workflows/services"
)

// cadenceOp is one API operation a user does, sent i-th time.
type cadenceOp struct {
	name string
	do   func(b *testing.B, i int)
}

// BenchmarkCadencesAtScale measures what a user does through the API — create a contact, read one,
// patch one, list 50, read their day — on a stack as a fresh installation has it (the shipped process
// templates), among RAPPORT_BENCH_CADENCES (default 10,000) existing contacts: first while none of them
// has a follow-up cadence ("baseline"), then after the bulk start (POST /api/v1/cadences, first
// follow-ups spread over 8 hours, at least 60 days away, so no timer fires meanwhile) gave every one a
// running cadence waiting for its timer ("cadences=N"); the stack settles before each op (settle). Each
// op's after-phase reports its ratio to its baseline (after ÷ before). The contacts are stored with the
// raw driver as if imported before the cadences existed, with the nextFollowUpAt a cadence writes (taken
// off again just before the bulk start), so both phases read documents of the same shape; a contact
// created through the API starts its own cadence in both phases. Each op also reports the process's live heap after a garbage collection
// (live-heap-MB, measured once per phase, before its first op): the stack runs in the benchmark's
// process, so that is the embedded Temporal server, FerretDB, the worker's cache and the API together.
// With RAPPORT_BENCH_HEAPPROFILE set to a directory, the phase also writes its heap profile there
// (heap-baseline.pprof, heap-cadences.pprof) for `go tool pprof -top -base heap-baseline.pprof
// heap-cadences.pprof`. RAPPORT_BENCH_CADENCE_PAGE sets the bulk start's pageSize (the server's
// default, 50, when unset), RAPPORT_BENCH_WORKFLOW_CACHE the stack's WorkflowCache (its default when unset). Run it with a fixed -benchtime (Nx); the bulk start of 10,000 takes most of
// the run (tens of minutes on a busy 2-core machine).
func BenchmarkCadencesAtScale(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("RAPPORT_BENCH_CADENCES")); err == nil && v > 0 {
		n = v
	}
	env := benchStack(b, func(c *stack.Config) {
		c.NoProcessTemplates = false
		if v, err := strconv.Atoi(os.Getenv("RAPPORT_BENCH_WORKFLOW_CACHE")); err == nil && v > 0 {
			c.WorkflowCache = v
		}
	})
	owner := adminID(b, env)
	firstDue := time.Now().UTC().Add(60 * 24 * time.Hour) // where a prospect's cadence puts it
	ids := seedRecords(b, env, "contact", n, func(i int) bson.M {
		// nextFollowUpAt and updatedBy as a cadence leaves them, so that both phases read contacts of the
		// same shape: the after phase measures the running cadences, not one more field per contact. (The
		// bulk start passes over contacts that have a date; it is removed right before it.)
		return bson.M{"firstName": fmt.Sprintf("Seeded %d", i), "lastName": "Seeded", "loyaltyStage": "prospect",
			"phones": []any{fmt.Sprintf("+7916%07d", i)}, "owner": owner, "updatedBy": "system",
			"nextFollowUpAt": firstDue.Add(time.Duration(i) * time.Minute)}
	})
	positions := []string{"Buyer", "Director", "Engineer"}
	ops := []cadenceOp{
		{"get", func(b *testing.B, i int) {
			benchCall(b, env, http.MethodGet, "/api/v1/records/contact/"+ids[i%n], nil, http.StatusOK)
		}},
		{"list50", func(b *testing.B, _ int) {
			benchCall(b, env, http.MethodGet, "/api/v1/records/contact?limit=50", nil, http.StatusOK)
		}},
		{"my-day", func(b *testing.B, _ int) { benchCall(b, env, http.MethodGet, "/api/v1/my-day", nil, http.StatusOK) }},
		{"patch", func(b *testing.B, i int) {
			benchCall(b, env, http.MethodPatch, "/api/v1/records/contact/"+ids[i%n], map[string]any{"position": positions[i%3]}, http.StatusOK)
		}},
		{"create", func(b *testing.B, i int) {
			benchCall(b, env, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": fmt.Sprintf("Created %d", i),
				"lastName": "Created", "loyaltyStage": "prospect"}, http.StatusCreated)
		}},
	}
	// before holds each op's baseline: the mean and the median of its calls. The median ratio is the one
	// to read on a shared machine, where a few calls stalled by other work move a mean of 20 calls.
	before := map[string][2]time.Duration{}
	seq := 0 // the after phase patches and reads other contacts than the baseline did
	phase := func(label, profile string, ratio bool) {
		settle(b, env, 3*time.Second)
		heapMB := liveHeap(b, profile)
		for _, op := range ops {
			settle(b, env, 3*time.Second)
			stop := cpuProfile(b, "cpu-"+op.name+"-"+label+".pprof")
			b.Run(op.name+"/"+label, func(b *testing.B) {
				var calls []time.Duration
				for b.Loop() {
					start := time.Now()
					op.do(b, seq)
					calls = append(calls, time.Since(start))
					seq++
				}
				perOp := b.Elapsed() / time.Duration(len(calls))
				slices.Sort(calls)
				med := calls[len(calls)/2]
				b.ReportMetric(float64(med.Nanoseconds()), "median-ns")
				b.ReportMetric(heapMB, "live-heap-MB")
				if !ratio {
					before[op.name] = [2]time.Duration{perOp, med}
				} else if base := before[op.name]; base[0] > 0 {
					b.ReportMetric(float64(perOp)/float64(base[0]), "ratio")
					b.ReportMetric(float64(med)/float64(base[1]), "median-ratio")
				}
			})
			stop()
		}
	}
	phase("baseline", "heap-baseline.pprof", false)
	// One update by ID each: the embedded store pushes those down, where an UpdateMany by a filter scans
	// and updates 10,000 documents in one command, past the client's timeout on a busy machine.
	for _, id := range ids {
		if _, err := env.DB.Collection("records_contact").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "nextFollowUpAt", Value: ""}}}}); err != nil {
			b.Fatalf("clear the seeded follow-up dates: %v", err)
		}
	}
	startCadences(b, env, n, `lastName == "Seeded"`)
	phase(fmt.Sprintf("cadences=%d", n), "heap-cadences.pprof", true)
}

// liveHeap collects garbage and returns the bytes of live heap objects in MB; when
// RAPPORT_BENCH_HEAPPROFILE names a directory, it also writes the heap profile there as file.
func liveHeap(b *testing.B, file string) float64 {
	b.Helper()
	runtime.GC()
	runtime.GC() // the first cycle's finalizers free more in the second
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("%s: live heap %.1f MB after GC", file, float64(ms.HeapAlloc)/(1<<20))
	if dir := os.Getenv("RAPPORT_BENCH_HEAPPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			b.Fatalf("heap profile: %v", err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatalf("heap profile %s: %v", file, err)
		}
	}
	return float64(ms.HeapAlloc) / (1 << 20)
}

// cpuProfile starts a CPU profile written to file in the directory RAPPORT_BENCH_CPUPROFILE names, and
// returns what stops it; without that variable it does nothing. A profile per op and phase shows where an
// op's extra time goes once the cadences run (`go tool pprof -top -base cpu-list50-baseline.pprof
// cpu-list50-cadences=10000.pprof`): CPU, not wall time, so it stays true on a busy machine.
func cpuProfile(b *testing.B, file string) (stop func()) {
	b.Helper()
	dir := os.Getenv("RAPPORT_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("cpu profile %s: %v", file, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// startCadences runs the bulk start of follow-up cadences for the contacts matching filter, as a user
// does, and waits until all n have a cadence waiting for its first follow-up: each has its
// nextFollowUpAt, no record change is left to deliver, and n cadences run. It logs how long that took.
func startCadences(b *testing.B, env *stacktest.Env, n int, filter string) {
	b.Helper()
	ctx := context.Background()
	began := time.Now()
	var job services.CadenceJob
	req := map[string]any{"entity": "contact", "filter": filter, "spreadMinutes": 480}
	if page, err := strconv.Atoi(os.Getenv("RAPPORT_BENCH_CADENCE_PAGE")); err == nil && page > 0 {
		req["pageSize"] = page // more cadences starting at once: a quicker bulk start on a busy machine
	}
	raw := benchCall(b, env, http.MethodPost, "/api/v1/cadences", req, http.StatusAccepted)
	if err := json.Unmarshal(raw, &job); err != nil {
		b.Fatalf("bulk start: %v: %s", err, raw)
	}
	waitCount(b, "contacts started by the bulk start", n, 2*time.Hour, func() (int64, error) {
		status, raw, err := env.Do(ctx, http.MethodGet, "/api/v1/cadences/"+job.ID, env.AdminToken, nil)
		if err != nil || status != http.StatusOK || json.Unmarshal(raw, &job) != nil {
			return 0, fmt.Errorf("bulk start progress: %d %v %s", status, err, raw)
		}
		if job.State == "failed" || job.Failed > 0 {
			b.Fatalf("bulk start: %+v", job)
		}
		if job.State != "done" { // progress, not done
			return int64(min(job.Started, n-1)), nil
		}
		return int64(job.Started), nil
	})
	started := time.Since(began)
	contacts := env.DB.Collection("records_contact")
	scheduled := bson.D{{Key: "lastName", Value: "Seeded"}, {Key: "nextFollowUpAt", Value: bson.D{{Key: "$ne", Value: nil}}}}
	waitCount(b, "contacts with their next follow-up", n, time.Hour, func() (int64, error) { return contacts.CountDocuments(ctx, scheduled) })
	waitCount(b, "running cadences", n, time.Hour, func() (int64, error) {
		return countWorkflows(ctx, env, "RapportProcessKey = '"+services.CadenceProcess+"' AND ExecutionStatus = 'Running'")
	})
	// The embedded servers keep writing for a while after the last instance waits (history, visibility).
	settle(b, env, 30*time.Second)
	b.Logf("bulk start of %d cadences: the job took %v, all waiting for their timer after %v", n, started.Round(time.Second), time.Since(began).Round(time.Second))
}

// settle waits until every record change is delivered to the processes, then quiet more for the
// instances to run what it started, so that one operation's aftermath (a patch wakes the contact's cadence, a
// new contact starts one) is not measured as the next operation's cost.
func settle(b *testing.B, env *stacktest.Env, quiet time.Duration) {
	b.Helper()
	waitCount(b, "record changes delivered", 1, time.Hour, func() (int64, error) {
		pending, err := env.Stack.Outbox.Pending(context.Background())
		if err != nil || pending != 0 {
			return 0, err
		}
		return 1, nil
	})
	time.Sleep(quiet)
}
