package load

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stats are the latencies of successful requests and the errors of the others.
type Stats struct {
	lat    []time.Duration
	sorted bool
	Errors int
	// Why counts errors by reason (status, transport, overload).
	Why map[string]int
}

func (s *Stats) add(d time.Duration) { s.lat, s.sorted = append(s.lat, d), false }

func (s *Stats) fail(why string) {
	s.Errors++
	if s.Why == nil {
		s.Why = map[string]int{}
	}
	if i := strings.Index(why, ": "); strings.HasPrefix(why, "transport") && i > 0 {
		why = why[:i] // transport errors differ in their details; count them together
	}
	s.Why[why]++
}

// N is the number of requests, successful or not.
func (s *Stats) N() int { return len(s.lat) + s.Errors }

// P is the p-th percentile (nearest rank) of the successful requests' latency; 0 when there are none.
func (s *Stats) P(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.lat)
		s.sorted = true
	}
	rank := int(math.Ceil(p / 100 * float64(len(s.lat))))
	return s.lat[min(max(rank, 1), len(s.lat))-1]
}

// Max is the slowest successful request.
func (s *Stats) Max() time.Duration { return s.P(100) }

// Sample is the server's resident memory at a moment of a step.
type Sample struct {
	At    time.Duration
	Bytes int64
}

// Step is one rate's outcome.
type Step struct {
	Rate     float64
	Duration time.Duration
	Elapsed  time.Duration
	All      *Stats
	ops      map[string]*Stats
	RSS      []Sample
}

// Op returns the statistics of one operation of the mix.
func (s *Step) Op(name string) *Stats { return s.ops[name] }

// Report is a whole run.
type Report struct {
	Started  time.Time
	Duration time.Duration
	Steps    []*Step
}

// Crossing names the first rate whose p99 passed Threshold and the last one below it; rate 0 means
// none of the steps passed it (or all did, for below).
func (r *Report) Crossing() (below, above float64) {
	for _, s := range r.Steps {
		if s.All.P(99) > Threshold || (s.All.N() > 0 && float64(s.All.Errors)/float64(s.All.N()) > 0.01) {
			return below, s.Rate
		}
		below = s.Rate
	}
	return below, 0
}

// Markdown writes the report as tables: one row per rate, one row per operation and rate, and the
// memory samples.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "| rate (req/s) | requests | achieved (req/s) | p50 | p95 | p99 | max | errors | RSS start → end (max) |\n")
	fmt.Fprintf(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Steps {
		fmt.Fprintf(w, "| %g | %d | %.1f | %s | %s | %s | %s | %s | %s |\n", s.Rate, s.All.N(), float64(s.All.N())/s.Elapsed.Seconds(),
			ms(s.All.P(50)), ms(s.All.P(95)), ms(s.All.P(99)), ms(s.All.Max()), errorsText(s.All), rssText(s.RSS))
	}
	below, above := r.Crossing()
	fmt.Fprintln(w)
	switch {
	case above == 0:
		fmt.Fprintf(w, "p99 stayed under %s (and errors under 1%%) at every rate run, up to %g req/s.\n", ms(Threshold), below)
	case below == 0:
		fmt.Fprintf(w, "p99 passed %s (or errors 1%%) already at %g req/s, the lowest rate run.\n", ms(Threshold), above)
	default:
		fmt.Fprintf(w, "p99 passes %s (or errors 1%%) between %g and %g req/s.\n", ms(Threshold), below, above)
	}
	fmt.Fprintf(w, "\n| rate | operation | requests | p50 | p95 | p99 | errors |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Steps {
		names := make([]string, 0, len(s.ops))
		for n := range s.ops {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			o := s.ops[n]
			if o.N() == 0 {
				continue
			}
			fmt.Fprintf(w, "| %g | %s | %d | %s | %s | %s | %s |\n", s.Rate, n, o.N(), ms(o.P(50)), ms(o.P(95)), ms(o.P(99)), errorsText(o))
		}
	}
	fmt.Fprintf(w, "\nServer memory (RSS, MiB) over each step:\n\n")
	for _, s := range r.Steps {
		var parts []string
		for _, x := range s.RSS {
			parts = append(parts, fmt.Sprintf("%s %s", x.At.Round(time.Second), mib(x.Bytes)))
		}
		fmt.Fprintf(w, "- %g req/s: %s\n", s.Rate, strings.Join(parts, ", "))
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func mib(b int64) string {
	if b == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}

func errorsText(s *Stats) string {
	if s.Errors == 0 {
		return "0"
	}
	var why []string
	for k, n := range s.Why {
		why = append(why, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(why)
	return fmt.Sprintf("%d (%.1f%%: %s)", s.Errors, 100*float64(s.Errors)/float64(s.N()), strings.Join(why, ", "))
}

func rssText(samples []Sample) string {
	if len(samples) == 0 || samples[0].Bytes == 0 {
		return "?"
	}
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.Bytes)
	}
	return fmt.Sprintf("%s → %s (%s) MiB", mib(samples[0].Bytes), mib(samples[len(samples)-1].Bytes), mib(peak))
}
