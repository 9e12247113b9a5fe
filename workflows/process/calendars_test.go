package process

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/rulesets"
)

// calendars is a CalendarStore double.
type calendars []calendar.Spec

func (c calendars) Calendars(context.Context) ([]rulesets.CalendarInfo, error) {
	out := make([]rulesets.CalendarInfo, len(c))
	for i, s := range c {
		out[i] = rulesets.CalendarInfo{Spec: s}
	}
	return out, nil
}

// TestBusinessHoursTimer: a timer due "8 business hours from now" in the office calendar fires at the
// right time (the first release published it and failed at run time with "unknown business
// calendar").
func TestBusinessHoursTimer(t *testing.T) {
	week := map[string][]calendar.Interval{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		week[d] = []calendar.Interval{{Start: "09:00", End: "17:00"}}
	}
	store := calendars{{Name: "office", TimeZone: "UTC", Hours: week}}
	x := docWith("sla", anyVar("firedAt"), start+
		`    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDate>=addBusinessHours(now, 8, "office")</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:scriptTask id="Stamp"><bpmn:extensionElements><rapport:assign target="firedAt" expression="=now" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>`+"\n"+
		end("End", "F2")+flow("F0", "Start", "Wait")+flow("F1", "Wait", "Stamp")+flow("F2", "Stamp", "End"), "")
	env := newEnvWithActivities(t, &Activities{Registry: testRegistry(newCalls()), Calendars: store})
	friday := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)
	env.SetStartTime(friday)
	var seen Snapshot
	env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, time.Minute)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x)})
	if len(seen.Incidents) > 0 {
		t.Fatalf("incident: %s", seen.Incidents[0].Message)
	}
	res := result(t, env)
	want := time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC) // 2 hours on Friday, 6 on Monday
	if got := fmt.Sprint(res.Variables["firedAt"]); got != want.Format(time.RFC3339) {
		t.Fatalf("fired at %s, want %s", got, want.Format(time.RFC3339))
	}
}
