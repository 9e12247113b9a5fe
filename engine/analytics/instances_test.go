package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/analytics"
)

// liveProcess waits a second, asks a person to review, then passes a gateway that lets approved and
// undecided cases through: a rejected one is an incident, which a retry approving it resolves.
const liveProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Live" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="figures-live" name="Live figures" isExecutable="true">
    <bpmn:extensionElements><rapport:variables><rapport:variable name="approved" type="bool" /></rapport:variables></bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Review"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="reviewers" /></bpmn:extensionElements><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="Gate"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F4</bpmn:outgoing><bpmn:outgoing>F5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="Done"><bpmn:incoming>F4</bpmn:incoming><bpmn:incoming>F5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Review" />
    <bpmn:sequenceFlow id="F3" sourceRef="Review" targetRef="Gate" />
    <bpmn:sequenceFlow id="F4" sourceRef="Gate" targetRef="Done"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=approved == true</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F5" sourceRef="Gate" targetRef="Done"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=approved == nil</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>`

// card is what these tests read of an instance.
type card struct {
	Status    string `json:"status"`
	Version   int    `json:"version"`
	UserTasks []struct {
		InboxID string `json:"inboxId"`
	} `json:"userTasks"`
	Incidents []struct {
		ID      int    `json:"id"`
		Element string `json:"element"`
	} `json:"incidents"`
}

// waitCard polls an instance's card until ok holds.
func waitCard(t *testing.T, id string, ok func(card) bool) card {
	t.Helper()
	var c card
	var raw []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, raw, _ = env.Do(context.Background(), http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil)
		c = card{}
		if json.Unmarshal(raw, &c) == nil && ok(c) {
			return c
		}
	}
	t.Fatalf("instance %s never got there: %s", id, raw)
	return c
}

// TestProcessFiguresFromInstances: the figures per element come from instances running on the embedded
// stack, started, worked and retried through the API: every element a run per instance, the timer at
// least its second, the gateway's incident (and the run after its retry) in its incident rate.
func TestProcessFiguresFromInstances(t *testing.T) {
	if r := env.Call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, liveProcess, "Content-Type", "application/xml"); r.Status != http.StatusCreated {
		t.Fatalf("deploy: %d %s", r.Status, r.Raw)
	}
	call(t, http.MethodPost, "/api/v1/processes/figures-live/publish", nil, http.StatusCreated)
	approved := []bool{true, true, false}
	var ids []string
	for _, ok := range approved {
		r := call(t, http.MethodPost, "/api/v1/processes/figures-live/instances", map[string]any{"variables": map[string]any{"approved": ok}}, http.StatusCreated)
		ids = append(ids, r.Body["id"].(string))
	}
	for i, id := range ids {
		c := waitCard(t, id, func(c card) bool { return len(c.UserTasks) == 1 })
		call(t, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(c.UserTasks[0].InboxID)+"/complete", map[string]any{}, http.StatusNoContent)
		if !approved[i] {
			c = waitCard(t, id, func(c card) bool { return len(c.Incidents) == 1 })
			if c.Incidents[0].Element != "Gate" {
				t.Fatalf("incident at %s, want Gate", c.Incidents[0].Element)
			}
			call(t, http.MethodPost, "/api/v1/instances/"+url.PathEscape(id)+"/retry", map[string]any{"reason": "approved after all",
				"incidentId": c.Incidents[0].ID, "variables": map[string]any{"approved": true}}, http.StatusOK)
		}
		if c := waitCard(t, id, func(c card) bool { return c.Status == "completed" || c.Status == "failed" }); c.Status != "completed" || c.Version != 1 {
			t.Fatalf("instance %s ended %s at version %d", id, c.Status, c.Version)
		}
	}
	rep := decode[analytics.ProcessReport](t, call(t, http.MethodGet, "/api/v1/analytics/processes/figures-live?version=1", nil, http.StatusOK))
	byEl := map[string]analytics.ElementFigures{}
	var names []string
	for _, f := range rep.Elements {
		byEl[f.Element] = f
		names = append(names, f.Element)
	}
	if !slices.Equal(names, []string{"Done", "Gate", "Review", "Start", "Wait"}) {
		t.Fatalf("elements %v, want every element of the process", names)
	}
	for _, el := range []string{"Done", "Review", "Start", "Wait"} {
		if f := byEl[el]; f.Runs != 3 || f.Completed != 3 || f.Incidents != 0 {
			t.Errorf("%s: %+v, want 3 runs completed", el, f)
		}
	}
	// The timer waited at least its second in workflow time; p90 is the upper bound of a bucket.
	if w := byEl["Wait"]; w.MeanMs < 1000 || w.P90Ms < 1000 || w.MeanMs > 60_000 {
		t.Errorf("Wait: mean %v ms, p90 %v ms, want at least the timer's 1000 ms", w.MeanMs, w.P90Ms)
	}
	// The gateway: 3 passes and 1 incident; the retried pass includes the time it spent in the incident.
	if g := byEl["Gate"]; g.Runs != 4 || g.Completed != 3 || g.Incidents != 1 || !near(g.IncidentRate, 0.25) || g.MeanMs <= 0 {
		t.Errorf("Gate: %+v, want 4 runs, 3 completed, 1 incident (rate 0.25) and a positive mean", g)
	}
	t.Logf("figures of figures-live v1: %+v", rep.Elements)
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/processes/figures-live/csv?version=1", nil, http.StatusOK))
	if len(rows) != 6 || rows[2][0] != "Gate" || rows[2][1] != "4" || rows[2][3] != "1" {
		t.Errorf("process CSV %v", rows)
	}
}

// TestElementBatchesCountOnce: a batch an instance reports again (a retried activity) is counted once,
// later batches of the run count, and the run's final batch forgets the run.
func TestElementBatchesCountOnce(t *testing.T) {
	ctx := context.Background()
	batch := func(seq int, final bool, d time.Duration) analytics.ElementBatch {
		return analytics.ElementBatch{Run: "batches-1/run-1", Seq: seq, Final: final, Events: []analytics.ElementEvent{
			{Process: "batches", Version: 1, Element: "Task", Duration: d},
			{Process: "batches", Version: 1, Element: "Task", Incident: true},
		}}
	}
	steps := []struct {
		name      string
		batch     analytics.ElementBatch
		runs      int64
		meanMs    float64
		remembers bool
	}{
		{"first", batch(1, false, 100*time.Millisecond), 2, 100, true},
		{"first again", batch(1, false, 100*time.Millisecond), 2, 100, true},
		{"second", batch(2, false, 300*time.Millisecond), 4, 200, true},
		{"final", batch(3, true, 200*time.Millisecond), 6, 200, false},
	}
	for _, st := range steps {
		if err := env.Stack.Analytics.ElementsFinished(ctx, st.batch); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		els, err := env.Stack.Analytics.ProcessElements(ctx, "batches", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(els) != 1 || els[0].Runs != st.runs || els[0].Incidents != st.runs/2 || !near(els[0].MeanMs, st.meanMs) {
			t.Errorf("after %s: %+v, want %d runs, half of them incidents, mean %v ms", st.name, els, st.runs, st.meanMs)
		}
		err = env.DB.Collection(analytics.ElementReportsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "batches-1/run-1"}}).Err()
		if remembered := err == nil; remembered != st.remembers || (err != nil && !errors.Is(err, mongo.ErrNoDocuments)) {
			t.Errorf("after %s: run remembered %v (%v), want %v", st.name, remembered, err, st.remembers)
		}
	}
	if err := env.Stack.Analytics.ElementsFinished(ctx, analytics.ElementBatch{Run: "batches-1/run-2", Seq: 1,
		Events: []analytics.ElementEvent{{Process: "batches", Element: ""}}}); err == nil {
		t.Error("an event without its element was accepted")
	}
}
