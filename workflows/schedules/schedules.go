// Package schedules turns the timer start events of a published process into Temporal schedules, so a
// process that starts "every Monday at 9:00" or "on 1 March" runs without anyone starting it. Each timer
// start event has one schedule, replaced when a new version is published and removed when the event is
// gone.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/workflows/process"
)

// IDPrefix starts the ID of every schedule Rapport creates for a process's timer start events.
const IDPrefix = "rapport-process-"

// ID is the schedule ID of one timer start event of a process.
func ID(key, element string) string { return IDPrefix + key + "--" + element }

// Sync makes the namespace's schedules match the timer start events of version of the process key. Each
// schedule starts instances through process.ScheduleAction, the starter's ID scheme and input.
func Sync(ctx context.Context, c client.Client, taskQueue, key string, version int, m *bpmn.Model) error {
	sc := c.ScheduleClient()
	want := map[string]bool{}
	var errs []error
	for _, i := range m.Starts(bpmn.KindStartTimer) {
		n := m.Nodes[i]
		if n.Timer == nil {
			continue
		}
		spec, remaining, err := specOf(n.Timer)
		if err != nil {
			errs = append(errs, fmt.Errorf("timer start %s: %w", n.ID, err))
			continue
		}
		id := ID(key, n.ID)
		want[id] = true
		action, err := process.ScheduleAction(m, key, version, n.ID, taskQueue)
		if err != nil {
			errs = append(errs, fmt.Errorf("timer start %s: %w", n.ID, err))
			continue
		}
		opts := client.ScheduleOptions{
			ID: id, Spec: spec, RemainingActions: remaining, Action: action,
			Note: fmt.Sprintf("timer start %s of process %s version %d", n.ID, key, version),
		}
		if err := deleteSchedule(ctx, sc, id); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := sc.Create(ctx, opts); err != nil {
			errs = append(errs, fmt.Errorf("create schedule %s: %w", id, err))
		}
	}
	// Remove the schedules of timer start events the new version no longer has.
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list schedules: %w", err))...)
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			errs = append(errs, fmt.Errorf("list schedules: %w", err))
			break
		}
		if strings.HasPrefix(e.ID, IDPrefix+key+"--") && !want[e.ID] {
			errs = append(errs, deleteSchedule(ctx, sc, e.ID))
		}
	}
	return errors.Join(errs...)
}

func deleteSchedule(ctx context.Context, sc client.ScheduleClient, id string) error {
	err := sc.GetHandle(ctx, id).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}

// specOf maps a BPMN timer to a schedule spec and a limit on its runs (0 = unlimited).
func specOf(t *bpmn.Timer) (client.ScheduleSpec, int, error) {
	switch {
	case t.Expression != "":
		return client.ScheduleSpec{}, 0, errors.New("a timer start event needs a literal date or cycle, not an expression")
	case t.Cycle != nil && t.Cycle.Cron != "":
		return client.ScheduleSpec{CronExpressions: []string{t.Cycle.Cron}, StartAt: t.Cycle.Start}, max(t.Cycle.Repetitions, 0), nil
	case t.Cycle != nil:
		every, ok := t.Cycle.Interval.Fixed()
		if !ok || every <= 0 {
			return client.ScheduleSpec{}, 0, errors.New("a cycle in months or years is not supported by schedules; use a cron cycle")
		}
		spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}, StartAt: t.Cycle.Start}
		if !t.Cycle.Start.IsZero() {
			// Phase the interval so the first firing is at the cycle's start.
			spec.Intervals[0].Offset = time.Duration(t.Cycle.Start.UnixNano() % int64(every))
		}
		return spec, max(t.Cycle.Repetitions, 0), nil
	case !t.Date.IsZero():
		d := t.Date.UTC()
		r := func(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v}} }
		return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
			Second: r(d.Second()), Minute: r(d.Minute()), Hour: r(d.Hour()),
			DayOfMonth: r(d.Day()), Month: r(int(d.Month())), Year: r(d.Year()),
		}}}, 1, nil
	}
	return client.ScheduleSpec{}, 0, errors.New("a timer start event needs a date or a cycle")
}
