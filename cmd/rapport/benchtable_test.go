package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBenchTable runs `make bench`'s table script (.ci/bench-ratios.awk) over three recorded rounds and
// checks what BENCHMARKS.md is made of: the header (machine, commit, command), each figure beside its
// same-run baseline by the naming rules (a HandWritten suffix, a handwritten sibling), the ratio's median
// and min–max taken per round, a round where the figure failed left out of its ratios, and a figure
// without a baseline listed with its median and its other metric.
func TestBenchTable(t *testing.T) {
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Skip("no awk on this machine")
	}
	out, err := exec.Command(awk, "-f", "../../.ci/bench-ratios.awk", "testdata/bench.raw.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("awk: %v\n%s", err, out)
	}
	table := string(out)
	for _, want := range []string{
		"- machine: Linux 6.1 x86_64, Test CPU, 2 cores, 7.8 GiB; load average at start 1.00 2.00 3.00",
		"- commit: abc1234; date: 2026-12-01 03:00 UTC",
		"- command: BENCH_ROUNDS=3 make bench",
		// Ratios 2.0, 3.0, 1.5: median 2, spread 1.5–3.
		"| engine/rules | Scoring20 | Scoring20HandWritten | 2.00 µs | 1.00 µs | **2.00** | 1.50 – 3.00 | 3 |",
		// Round 2 failed: ratios 1.5 and 2.0 only, their median 1.75.
		"| workflows/process/e2e | Interpreter/k=1/process | Interpreter/k=1/handwritten | 3.50 ms | 2.00 ms | **1.75** | 1.50 – 2.00 | 2 |",
		"| workflows/process/e2e | Interpreter/timer+usertask/process | Interpreter/timer+usertask/handwritten | 9.00 ms | 9.00 ms | **1.00** | 0.90 – 1.10 | 3 |",
		"| engine/query | ParseFilter | 20.00 µs | 10.00 µs – 30.00 µs | 8 filters/ms | 3 |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks\n%s\n\ntable:\n%s", want, table)
		}
	}
	// A baseline is never a row of its own.
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| engine/rules | Scoring20HandWritten") || strings.HasPrefix(line, "| workflows/process/e2e | Interpreter/k=1/handwritten") {
			t.Errorf("a baseline listed as a figure: %s", line)
		}
	}
}
