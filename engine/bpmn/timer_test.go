package bpmn

import (
	"testing"
	"time"
)

func TestTimerFireAt(t *testing.T) {
	start := time.Date(2026, 1, 5, 7, 30, 0, 0, time.UTC) // a Monday
	date := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		timer Timer
		want  time.Time
		err   bool
	}{
		{name: "date", timer: Timer{Kind: TimerDate, Date: date}, want: date},
		{name: "duration", timer: Timer{Kind: TimerDuration, Duration: Duration{Days: 1, Clock: time.Hour}}, want: start.Add(25 * time.Hour)},
		{name: "iso cycle", timer: Timer{Kind: TimerCycle, Cycle: &Cycle{Repetitions: 2, Interval: Duration{Clock: 10 * time.Minute}}}, want: start.Add(10 * time.Minute)},
		{name: "iso cycle with start", timer: Timer{Kind: TimerCycle, Cycle: &Cycle{Repetitions: -1, Start: date, Interval: Duration{Days: 1}}}, want: date},
		{name: "cron cycle", timer: Timer{Kind: TimerCycle, Cycle: &Cycle{Repetitions: -1, Cron: "0 8 * * 1-5"}}, want: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)},
		{name: "zero repetitions", timer: Timer{Kind: TimerCycle, Cycle: &Cycle{Repetitions: 0, Interval: Duration{Days: 1}}}, err: true},
		{name: "expression", timer: Timer{Kind: TimerDuration, Expression: "wait"}, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.timer.FireAt(start)
			if tc.err {
				if err == nil {
					t.Fatalf("FireAt = %v, want error", got)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("FireAt = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCycleNextRepetitions(t *testing.T) {
	c, err := ParseCycle("R3/PT1H")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var fired []time.Time
	for n := 0; ; n++ {
		next, ok, err := c.Next(at, n)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		fired = append(fired, next)
		at = next
		if n > 10 {
			t.Fatal("cycle did not stop")
		}
	}
	if len(fired) != 3 || !fired[2].Equal(time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("fired = %v", fired)
	}
	if c.String() != "R3/PT1H" {
		t.Errorf("String = %q", c.String())
	}
}

func TestTimerWithValue(t *testing.T) {
	date := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		kind TimerKind
		v    any
		err  bool
		want func(*Timer) bool
	}{
		{kind: TimerDate, v: date, want: func(t *Timer) bool { return t.Date.Equal(date) }},
		{kind: TimerDate, v: "2026-02-01T10:00:00+01:00", want: func(t *Timer) bool { return t.Date.Equal(date) }},
		{kind: TimerDate, v: 42, err: true},
		{kind: TimerDuration, v: 90 * time.Minute, want: func(t *Timer) bool { return t.Duration.Clock == 90*time.Minute }},
		{kind: TimerDuration, v: "P2D", want: func(t *Timer) bool { return t.Duration.Days == 2 }},
		{kind: TimerDuration, v: -time.Second, err: true},
		{kind: TimerDuration, v: "soon", err: true},
		{kind: TimerCycle, v: "R/P1W", want: func(t *Timer) bool { return t.Cycle.Interval.Days == 7 }},
		{kind: TimerCycle, v: 7, err: true},
	}
	for _, tc := range cases {
		expr := &Timer{Kind: tc.kind, Expression: "x"}
		got, err := expr.WithValue(tc.v)
		if tc.err {
			if err == nil {
				t.Errorf("%s %v: want error", tc.kind, tc.v)
			}
			continue
		}
		if err != nil || got.Expression != "" || !tc.want(got) {
			t.Errorf("%s %v: got %+v, %v", tc.kind, tc.v, got, err)
		}
	}
}
