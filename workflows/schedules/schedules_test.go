package schedules

import (
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

func TestSpecOf(t *testing.T) {
	mustCycle := func(s string) *bpmn.Cycle {
		c, err := bpmn.ParseCycle(s)
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	date := time.Date(2027, 3, 1, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name          string
		timer         bpmn.Timer
		wantErr       bool
		wantCron      string
		wantEvery     time.Duration
		wantRemaining int
		wantCalendar  bool
	}{
		{"cron cycle", bpmn.Timer{Kind: bpmn.TimerCycle, Cycle: mustCycle("0 9 * * MON")}, false, "0 9 * * MON", 0, 0, false},
		{"unbounded ISO cycle", bpmn.Timer{Kind: bpmn.TimerCycle, Cycle: mustCycle("R/P1D")}, false, "", 24 * time.Hour, 0, false},
		{"bounded ISO cycle", bpmn.Timer{Kind: bpmn.TimerCycle, Cycle: mustCycle("R3/PT10M")}, false, "", 10 * time.Minute, 3, false},
		{"monthly ISO cycle is refused", bpmn.Timer{Kind: bpmn.TimerCycle, Cycle: mustCycle("R/P1M")}, true, "", 0, 0, false},
		{"date fires once", bpmn.Timer{Kind: bpmn.TimerDate, Date: date}, false, "", 0, 1, true},
		{"expression is refused", bpmn.Timer{Kind: bpmn.TimerDate, Expression: "=nextRun"}, true, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, remaining, err := specOf(&tt.timer)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if remaining != tt.wantRemaining {
				t.Errorf("remaining = %d, want %d", remaining, tt.wantRemaining)
			}
			if tt.wantCron != "" && (len(spec.CronExpressions) != 1 || spec.CronExpressions[0] != tt.wantCron) {
				t.Errorf("cron = %v", spec.CronExpressions)
			}
			if tt.wantEvery != 0 && (len(spec.Intervals) != 1 || spec.Intervals[0].Every != tt.wantEvery) {
				t.Errorf("intervals = %+v", spec.Intervals)
			}
			if tt.wantCalendar {
				c := spec.Calendars[0]
				if c.Year[0].Start != 2027 || c.Month[0].Start != 3 || c.DayOfMonth[0].Start != 1 || c.Hour[0].Start != 9 || c.Minute[0].Start != 30 {
					t.Errorf("calendar = %+v", c)
				}
			}
		})
	}
}
