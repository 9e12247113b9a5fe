package bpmn

import (
	"fmt"
	"time"
)

// FireAt returns when a literal timer fires for a timer started at start (workflow time, never the
// wall clock): the date itself, start plus the duration, or the first firing of a cycle. Expression
// timers must first be turned literal with WithValue.
func (t *Timer) FireAt(start time.Time) (time.Time, error) {
	if t.Expression != "" {
		return time.Time{}, fmt.Errorf("timer %s is the expression %q; evaluate it and call WithValue first", t.Kind, t.Expression)
	}
	switch t.Kind {
	case TimerDate:
		return t.Date, nil
	case TimerDuration:
		return t.Duration.AddTo(start), nil
	case TimerCycle:
		if t.Cycle == nil {
			return time.Time{}, fmt.Errorf("cycle timer has no cycle")
		}
		next, ok, err := t.Cycle.Next(start, 0)
		if err != nil {
			return time.Time{}, err
		}
		if !ok {
			return time.Time{}, fmt.Errorf("cycle %s never fires", t.Cycle.String())
		}
		return next, nil
	}
	return time.Time{}, fmt.Errorf("unknown timer kind %q", t.Kind)
}

// WithValue returns a literal copy of an expression timer from the expression's value: a time.Time or
// RFC 3339 string for dates, a positive time.Duration or ISO 8601 string for durations, an ISO 8601
// repeating interval or cron string for cycles.
func (t *Timer) WithValue(v any) (*Timer, error) {
	out := &Timer{Kind: t.Kind}
	switch t.Kind {
	case TimerDate:
		switch x := v.(type) {
		case time.Time:
			out.Date = x
		case string:
			d, err := ParseDate(x)
			if err != nil {
				return nil, fmt.Errorf("timer date value: %w", err)
			}
			out.Date = d
		default:
			return nil, fmt.Errorf("timer date value %v (%T): want a time or an RFC 3339 string", v, v)
		}
	case TimerDuration:
		switch x := v.(type) {
		case time.Duration:
			if x <= 0 {
				return nil, fmt.Errorf("timer duration value %v must be positive", x)
			}
			out.Duration = Duration{Clock: x}
		case string:
			d, err := ParseDuration(x)
			if err != nil {
				return nil, fmt.Errorf("timer duration value: %w", err)
			}
			out.Duration = d
		default:
			return nil, fmt.Errorf("timer duration value %v (%T): want a duration or an ISO 8601 string", v, v)
		}
	case TimerCycle:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("timer cycle value %v (%T): want a string", v, v)
		}
		c, err := ParseCycle(s)
		if err != nil {
			return nil, fmt.Errorf("timer cycle value: %w", err)
		}
		out.Cycle = &c
	default:
		return nil, fmt.Errorf("unknown timer kind %q", t.Kind)
	}
	return out, nil
}

// Next returns the firing of the cycle after prev, where prev is the time the timer started when fired
// is 0 and the previous firing otherwise; ok is false once Repetitions firings have happened. ISO cycles
// with a start fire first at the start; cron cycles are read in prev's location (UTC in workflows).
func (c Cycle) Next(prev time.Time, fired int) (next time.Time, ok bool, err error) {
	if c.Repetitions >= 0 && fired >= c.Repetitions {
		return time.Time{}, false, nil
	}
	if c.Cron != "" {
		sched, err := cronParser.Parse(c.Cron)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("cycle %q: %w", c.Cron, err)
		}
		n := sched.Next(prev)
		return n, !n.IsZero(), nil
	}
	if c.Interval.IsZero() {
		return time.Time{}, false, fmt.Errorf("cycle has no interval")
	}
	if fired == 0 && !c.Start.IsZero() {
		return c.Start, true, nil
	}
	return c.Interval.AddTo(prev), true, nil
}

// String renders the cycle back in the form it was written (ISO 8601 or cron).
func (c Cycle) String() string {
	if c.Cron != "" {
		return c.Cron
	}
	s := "R"
	if c.Repetitions >= 0 {
		s += fmt.Sprint(c.Repetitions)
	}
	if !c.Start.IsZero() {
		s += "/" + c.Start.Format(time.RFC3339)
	}
	return s + "/" + c.Interval.String()
}
