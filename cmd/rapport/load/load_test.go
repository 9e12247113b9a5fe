package load

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

func TestMain(m *testing.M) { stacktest.Main(m, &env) }

// TestRunDrivesTheMix runs one short step against the test stack: every request is sent and answered
// without error, every operation of the mix is represented, tasks of the follow-up process are
// completed, the percentiles are ordered and the memory of the server (this process) is sampled.
func TestRunDrivesTheMix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{URL: env.BaseURL, Email: stacktest.AdminEmail, Password: stacktest.AdminPassword, PID: os.Getpid(),
		Rates: []float64{20}, Duration: 5 * time.Second, Warmup: -1, Seed: 10, SampleEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 1 {
		t.Fatalf("%d steps", len(rep.Steps))
	}
	st := rep.Steps[0]
	var sent int
	for _, m := range mix {
		if st.Op(m.op).N() == 0 {
			t.Errorf("no %s requests", m.op)
		}
		sent += st.Op(m.op).N()
	}
	if sent != 100 {
		t.Errorf("%d requests scheduled, want 20/s × 5 s = 100", sent)
	}
	if st.Op("complete").N() == 0 {
		t.Errorf("no task was completed")
	}
	if st.All.Errors != 0 {
		t.Errorf("errors: %v", st.All.Why)
	}
	if !(st.All.P(50) <= st.All.P(95) && st.All.P(95) <= st.All.P(99) && st.All.P(99) <= st.All.Max()) || st.All.P(50) <= 0 {
		t.Errorf("percentiles out of order: %s %s %s %s", st.All.P(50), st.All.P(95), st.All.P(99), st.All.Max())
	}
	if len(st.RSS) < 3 || st.RSS[0].Bytes <= 0 {
		t.Errorf("memory samples: %+v", st.RSS)
	}
	var out strings.Builder
	rep.Markdown(&out)
	for _, want := range []string{"| 20 | ", "| 20 | create |", "p99", "Server memory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestStatsPercentiles(t *testing.T) {
	var s Stats
	for i := 100; i >= 1; i-- {
		s.add(time.Duration(i) * time.Millisecond)
	}
	s.fail("status 503 store-unavailable")
	s.fail("transport: dial tcp: refused")
	s.fail("transport: EOF")
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := s.P(tc.p); got != tc.want {
			t.Errorf("P(%g) = %s, want %s", tc.p, got, tc.want)
		}
	}
	if s.N() != 103 || s.Errors != 3 || s.Why["transport"] != 2 || s.Why["status 503 store-unavailable"] != 1 {
		t.Errorf("N %d, errors %d %v", s.N(), s.Errors, s.Why)
	}
	var empty Stats
	if empty.P(99) != 0 {
		t.Errorf("percentile of nothing = %s", empty.P(99))
	}
}

func TestPickFollowsTheWeights(t *testing.T) {
	got := map[string]int{}
	for n := int64(1); n <= 1000; n++ {
		got[pick(n)]++
	}
	for _, m := range mix {
		if got[m.op] != m.weight*10 {
			t.Errorf("%s picked %d times of 1000, want %d", m.op, got[m.op], m.weight*10)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "http://[::1]:80/": true, "https://127.0.0.2": true,
		"http://10.0.0.1:8080": false, "http://example.com": false, "ftp://127.0.0.1": false, "127.0.0.1:8080": false, "": false,
	} {
		if err := Loopback(url); (err == nil) != ok {
			t.Errorf("Loopback(%q) = %v, want ok=%v", url, err, ok)
		}
	}
}

func TestCrossing(t *testing.T) {
	step := func(rate float64, p99 time.Duration, errs int) *Step {
		s := &Stats{}
		for range 98 {
			s.add(time.Millisecond)
		}
		s.add(p99) // two of a hundred: the 99th percentile
		s.add(p99)
		for range errs {
			s.fail("status 500")
		}
		return &Step{Rate: rate, All: s}
	}
	for _, tc := range []struct {
		steps        []*Step
		below, above float64
	}{
		{[]*Step{step(10, 20*time.Millisecond, 0), step(20, 40*time.Millisecond, 0)}, 20, 0},
		{[]*Step{step(10, 20*time.Millisecond, 0), step(20, 300*time.Millisecond, 0), step(40, time.Second, 0)}, 10, 20},
		{[]*Step{step(10, 20*time.Millisecond, 0), step(20, 20*time.Millisecond, 5)}, 10, 20},
		{[]*Step{step(10, time.Second, 0)}, 0, 10},
	} {
		r := &Report{Steps: tc.steps}
		if below, above := r.Crossing(); below != tc.below || above != tc.above {
			t.Errorf("Crossing = %g, %g; want %g, %g", below, above, tc.below, tc.above)
		}
	}
}
