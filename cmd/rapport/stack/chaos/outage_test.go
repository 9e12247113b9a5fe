package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// outage is how long the store and Temporal are unreachable.
const outage = 20 * time.Second

// writer creates a lead every interval until stopped, classifying each answer.
type writer struct {
	w        *world
	mu       sync.Mutex
	acked    []string
	statuses map[int]int
	problems int // error answers that are RFC 9457 problem details
	slowest  time.Duration
	stop     chan struct{}
	done     chan struct{}
}

func startWriter(w *world, interval time.Duration, tag string) *writer {
	wr := &writer{w: w, statuses: map[int]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(wr.done)
		for i := 0; ; i++ {
			select {
			case <-wr.stop:
				return
			case <-time.After(interval):
			}
			need := "slow"
			if i%2 == 0 {
				need = "fast"
			}
			status, raw, took := w.call(http.MethodPost, "/api/v1/records/lead", map[string]any{"source": "api", "name": fmt.Sprintf("%s %d", tag, i), "status": "new", "need": need})
			wr.mu.Lock()
			wr.statuses[status]++
			wr.slowest = max(wr.slowest, took)
			var body struct {
				ID     string
				Type   string
				Status int
			}
			_ = json.Unmarshal(raw, &body)
			if status == http.StatusCreated && body.ID != "" {
				wr.acked = append(wr.acked, body.ID)
			} else if strings.HasPrefix(body.Type, "https://rapport.dev/problems/") && body.Status == status {
				wr.problems++
			}
			wr.mu.Unlock()
		}
	}()
	return wr
}

func (wr *writer) finish() { close(wr.stop); <-wr.done }

// readyz returns /readyz's status and the failing checks' errors.
func (w *world) readyz() (int, map[string]string) {
	status, raw, _ := w.call(http.MethodGet, "/readyz", nil)
	var body struct {
		Checks map[string]struct {
			OK    bool
			Error string
		}
	}
	_ = json.Unmarshal(raw, &body)
	failing := map[string]string{}
	for name, c := range body.Checks {
		if !c.OK {
			failing[name] = c.Error
		}
	}
	return status, failing
}

// TestChaosStoreUnreachable stops the embedded store for 20 s while leads are written every 250 ms and
// instances wait on timers that fire during the outage before writing a note: the API answers 503
// problem details within seconds (never 500, never hanging), /readyz names the store, every write
// acknowledged before, during or after is there afterwards, and the waiting instances finish their
// writes once the store is back.
func TestChaosStoreUnreachable(t *testing.T) {
	needChaos(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	env, err := stacktest.StartWith(ctx, quietConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	w := worldOf(t, env, "")
	w.publish("chaos-store", chain("chaos-store", timerStep("Wait", "8s"), writeStep("Note")))

	before := w.createLeads(10, 2, "before the store outage")
	wr := startWriter(w, 250*time.Millisecond, "during the store outage")
	time.Sleep(3 * time.Second)
	if err := env.Stack.StopEmbeddedStore(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = env.Stack.StartEmbeddedStore(context.Background())
		}
	}()
	time.Sleep(outage / 2)
	readyStatus, failing := w.readyz()
	time.Sleep(outage / 2)
	if err := env.Stack.StartEmbeddedStore(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	time.Sleep(5 * time.Second)
	wr.finish()

	if readyStatus != http.StatusServiceUnavailable || failing["mongodb"] == "" {
		t.Errorf("/readyz during the outage = %d, failing %v; want 503 naming mongodb", readyStatus, failing)
	}
	wr.mu.Lock()
	statuses, problems, slowest := wr.statuses, wr.problems, wr.slowest
	leads := append(before, wr.acked...)
	wr.mu.Unlock()
	refused := statuses[http.StatusServiceUnavailable]
	if refused == 0 || problems != refused || len(statuses) != 2 || statuses[http.StatusCreated] == 0 {
		t.Errorf("answers to writes: %v (%d problem details); want only 201 and 503 problem details", statuses, problems)
	}
	if slowest > 15*time.Second {
		t.Errorf("the slowest answer took %s; the API must not hang while the store is away", slowest)
	}
	back := time.Now()
	if !waitFor(5*time.Minute, func() bool { _, done := w.instances("chaos-store"); return done >= len(leads) }) {
		t.Errorf("not every instance completed after the store came back")
	}
	report(t, "store unreachable 20s", w.count("chaos-store", leads, true, false),
		fmt.Sprintf("answers to the writer %v (every error a problem details document), slowest %s; all instances done %s after the store came back; /readyz %d naming mongodb: %q",
			statuses, slowest.Round(time.Millisecond), time.Since(back).Round(time.Second), readyStatus, failing["mongodb"]))
}

// TestChaosTemporalUnreachable stops the embedded Temporal server for 20 s while leads are written
// every 250 ms: every write succeeds, /readyz names Temporal, the starts wait in the outbox and are all
// delivered once Temporal is back: one instance per lead, each of which writes its note once.
func TestChaosTemporalUnreachable(t *testing.T) {
	needChaos(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	env, err := stacktest.StartWith(ctx, quietConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	w := worldOf(t, env, "")
	w.publish("chaos-temporal", chain("chaos-temporal", writeStep("Note")))

	before := w.createLeads(10, 2, "before the Temporal outage")
	if err := env.Stack.StopEmbeddedTemporal(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = env.Stack.StartEmbeddedTemporal(context.Background())
		}
	}()
	wr := startWriter(w, 250*time.Millisecond, "during the Temporal outage")
	time.Sleep(outage / 2)
	readyStatus, failing := w.readyz()
	pending, _ := env.Stack.Outbox.Pending(ctx)
	time.Sleep(outage / 2)
	wr.finish()
	if err := env.Stack.StartEmbeddedTemporal(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true

	if readyStatus != http.StatusServiceUnavailable || failing["temporal"] == "" {
		t.Errorf("/readyz during the outage = %d, failing %v; want 503 naming temporal", readyStatus, failing)
	}
	wr.mu.Lock()
	statuses := wr.statuses
	leads := append(before, wr.acked...)
	during := len(wr.acked)
	wr.mu.Unlock()
	if len(statuses) != 1 || statuses[http.StatusCreated] == 0 {
		t.Errorf("answers to writes while Temporal was away: %v; want all 201", statuses)
	}
	if pending == 0 {
		t.Errorf("no start waited in the outbox during the outage")
	}
	back := time.Now()
	var drained time.Duration
	if !waitFor(8*time.Minute, func() bool {
		n, err := env.Stack.Outbox.Pending(ctx)
		if err == nil && n == 0 && drained == 0 {
			drained = time.Since(back)
		}
		_, done := w.instances("chaos-temporal")
		return drained > 0 && done >= len(leads)
	}) {
		t.Errorf("not every start was delivered and completed after Temporal came back")
	}
	report(t, "Temporal unreachable 20s", w.count("chaos-temporal", leads, true, false),
		fmt.Sprintf("%d leads written during the outage, %d starts waiting in the outbox halfway; outbox empty %s and all instances done %s after Temporal came back; /readyz %d naming temporal",
			during, pending, drained.Round(time.Second), time.Since(back).Round(time.Second), readyStatus))
}
