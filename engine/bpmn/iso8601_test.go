package bpmn

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in    string
		want  Duration
		fixed time.Duration
		err   bool
	}{
		{in: "PT15M", want: Duration{Clock: 15 * time.Minute}, fixed: 15 * time.Minute},
		{in: "P3D", want: Duration{Days: 3}, fixed: 72 * time.Hour},
		{in: "P2W", want: Duration{Days: 14}, fixed: 14 * 24 * time.Hour},
		{in: "P1DT2H3M4S", want: Duration{Days: 1, Clock: 2*time.Hour + 3*time.Minute + 4*time.Second}, fixed: 26*time.Hour + 3*time.Minute + 4*time.Second},
		{in: "PT0.5S", want: Duration{Clock: 500 * time.Millisecond}, fixed: 500 * time.Millisecond},
		{in: "P1Y2M", want: Duration{Years: 1, Months: 2}, fixed: -1},
		{in: "PT1M30S", want: Duration{Clock: 90 * time.Second}, fixed: 90 * time.Second},
		{in: "P", err: true},
		{in: "PT", err: true},
		{in: "15M", err: true},
		{in: "PT1.5H", err: true},
		{in: "P1H", err: true},
		{in: "PT1H1H", err: true},
		{in: "P-1D", err: true},
		{in: "PTT1H", err: true},
		{in: "P99999999999D", err: true},
		{in: "", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %+v, want error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			f, ok := got.Fixed()
			if tc.fixed < 0 {
				if ok {
					t.Errorf("Fixed() ok for calendar duration")
				}
			} else if !ok || f != tc.fixed {
				t.Errorf("Fixed() = %v, %v; want %v", f, ok, tc.fixed)
			}
			back, err := ParseDuration(got.String())
			if err != nil || back != got {
				t.Errorf("round trip %q -> %q -> %+v, %v", tc.in, got.String(), back, err)
			}
		})
	}
}

func TestDurationAddTo(t *testing.T) {
	d, _ := ParseDuration("P1M1DT1H")
	base := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	// Go normalises Feb 31 to Mar 3; plus one day, plus one hour.
	if got, want := d.AddTo(base), time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("AddTo = %v, want %v", got, want)
	}
}

func TestParseCycle(t *testing.T) {
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want Cycle
		err  bool
	}{
		{in: "R5/PT10M", want: Cycle{Repetitions: 5, Interval: Duration{Clock: 10 * time.Minute}}},
		{in: "R/P1D", want: Cycle{Repetitions: -1, Interval: Duration{Days: 1}}},
		{in: "R3/2026-01-05T08:00:00Z/P1W", want: Cycle{Repetitions: 3, Start: start, Interval: Duration{Days: 7}}},
		{in: "0 8 * * 1-5", want: Cycle{Repetitions: -1, Cron: "0 8 * * 1-5"}},
		{in: "0 0 9 * * MON-FRI", want: Cycle{Repetitions: -1, Cron: "0 0 9 * * MON-FRI"}},
		{in: "@daily", want: Cycle{Repetitions: -1, Cron: "@daily"}},
		{in: "R5", err: true},
		{in: "R/PT0S", err: true},
		{in: "Rx/PT1H", err: true},
		{in: "R/yesterday/PT1H", err: true},
		{in: "every day", err: true},
		{in: "61 * * * *", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCycle(tc.in)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseCycle(%q) = %+v, want error", tc.in, got)
				}
				return
			}
			if err != nil || !got.Start.Equal(tc.want.Start) || got.Repetitions != tc.want.Repetitions || got.Interval != tc.want.Interval || got.Cron != tc.want.Cron {
				t.Fatalf("ParseCycle(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	if d, err := ParseDate("2026-05-01T12:00:00+02:00"); err != nil || !d.Equal(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseDate = %v, %v", d, err)
	}
	for _, bad := range []string{"2026-05-01", "2026-05-01T12:00:00", "tomorrow"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted a date without zone", bad)
		}
	}
}
