package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMergingContactsKeepsOneAndEndsTheOthersCadence merges two contacts that each have a waiting
// follow-up cadence and an interaction, through POST /api/v1/records/contact/{id}/merge: the survivor
// takes the duplicate's values where it had none and its emails as secondary ones, the duplicate's
// interaction moves to the survivor, the duplicate is gone (404, in the trash, its history saying into
// which record it was merged) and its cadence ended, while the survivor's cadence still waits; both
// histories record the merge. Before that, the refusals: an agent (no delete on contacts) gets 403,
// merging a contact with itself 422, an unknown duplicate 404, a record of another entity 422 (each
// naming duplicateId), a stale If-Match 412 — and none of them changes anything.
func TestMergingContactsKeepsOneAndEndsTheOthersCadence(t *testing.T) {
	owner := newPerson(t, "mira.merge@example.test", []string{"agent"}, nil)
	keep := create(t, "contact", map[string]any{"firstName": "Marta", "lastName": "Merged", "emails": []any{"marta@merge.test"},
		"loyaltyStage": "customer", "owner": owner.ID, "complaintCount": 2})
	dup := create(t, "contact", map[string]any{"firstName": "Marta", "lastName": "Merged", "emails": []any{"m.merged@other.test"},
		"phones": []any{"+79167770111"}, "position": "Buyer", "loyaltyStage": "customer", "owner": owner.ID, "complaintCount": 1})
	kid, did := keep["id"].(string), dup["id"].(string)
	// The orders the loyalty-ladder process counted on each (read-only fields, so written as it would).
	for id, orders := range map[string]int64{kid: 3, did: 4} {
		if _, err := env.DB.Collection("records_contact").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "orderCount", Value: orders}, {Key: "orderTotal", Value: bson.D{{Key: "amount", Value: float64(orders) * 100}, {Key: "currency", Value: "RUB"}}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	var insts []string
	for _, id := range []string{kid, did} {
		waitRecord(t, "contact", id, 60*time.Second, func(r map[string]any) bool { return r["nextFollowUpAt"] != nil })
		insts = append(insts, instance(t, "follow-up-cadence", id, 30*time.Second))
	}
	now := time.Now().UTC().Format(time.RFC3339)
	kept := create(t, "interaction", map[string]any{"type": "call", "direction": "outbound", "occurredAt": now, "contact": kid, "summary": "Kept"})
	moved := create(t, "interaction", map[string]any{"type": "call", "direction": "outbound", "occurredAt": now, "contact": did, "summary": "Moved"})
	merge := "/api/v1/records/contact/" + kid + "/merge"

	refused := func(token string, body map[string]any, want int, pointer string, headers ...string) {
		t.Helper()
		if token == "" {
			token = env.AdminToken
		}
		r := env.Call(t, http.MethodPost, merge, token, body, headers...)
		if r.Status != want || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("merge %v: %d %s, want a %d problem", body, r.Status, r.Raw, want)
		}
		if pointer != "" && !strings.Contains(string(r.Raw), `"pointer":"`+pointer+`"`) {
			t.Errorf("merge %v: the problem does not name %s: %s", body, pointer, r.Raw)
		}
	}
	refused(owner.token, map[string]any{"duplicateId": did}, http.StatusForbidden, "")
	refused("", map[string]any{"duplicateId": kid}, http.StatusUnprocessableEntity, "/duplicateId")
	refused("", map[string]any{"duplicateId": "no-such-contact"}, http.StatusNotFound, "/duplicateId")
	refused("", map[string]any{"duplicateId": moved["id"]}, http.StatusUnprocessableEntity, "/duplicateId")
	// Counts and totals Rapport keeps add up; nobody picks them, not even through a merge.
	refused("", map[string]any{"duplicateId": did, "fields": map[string]any{"orderTotal": map[string]any{"amount": 1e6, "currency": "RUB"}}},
		http.StatusUnprocessableEntity, "/fields/orderTotal")
	stale := fmt.Sprintf(`"%v"`, get(t, "contact", kid)["version"].(float64)-1)
	refused("", map[string]any{"duplicateId": did}, http.StatusPreconditionFailed, "", "If-Match", stale)
	get(t, "contact", did) // still there

	var res struct {
		Record    map[string]any `json:"record"`
		Repointed map[string]int `json:"repointed"`
	}
	do(t, "", http.MethodPost, merge, map[string]any{"duplicateId": did, "fields": map[string]any{"loyaltyStage": "client"}}, &res, http.StatusOK)
	r := res.Record
	if r["id"] != kid || r["position"] != "Buyer" || r["loyaltyStage"] != "client" || fmt.Sprint(r["phones"]) != "[+79167770111]" ||
		fmt.Sprint(r["emails"]) != "[marta@merge.test m.merged@other.test]" || res.Repointed["interaction"] != 1 {
		t.Errorf("the merge's answer: %+v", res)
	}
	// Counts and totals (merge "sum" in the schema) add up: the complaints an agent may write and the
	// orders only Rapport writes.
	if total, _ := r["orderTotal"].(map[string]any); r["complaintCount"] != float64(3) || r["orderCount"] != float64(7) ||
		total["amount"] != float64(700) || total["currency"] != "RUB" {
		t.Errorf("the survivor's counts after the merge: complaints %v, orders %v, total %v; want 3, 7, 700 RUB", r["complaintCount"], r["orderCount"], r["orderTotal"])
	}
	do(t, "", http.MethodGet, "/api/v1/records/contact/"+did, nil, nil, http.StatusNotFound)
	var trash struct{ Items []map[string]any }
	do(t, "", http.MethodGet, "/api/v1/records/contact?"+url.Values{"deleted": {"true"}, "filter": {`lastName == "Merged"`}}.Encode(), nil, &trash, http.StatusOK)
	if !slices.ContainsFunc(trash.Items, func(r map[string]any) bool { return r["id"] == did }) {
		t.Errorf("the merged duplicate is not in the trash: %v", trash.Items)
	}
	if got := get(t, "interaction", moved["id"].(string))["contact"]; got != kid {
		t.Errorf("the duplicate's interaction references %v, want the survivor %s", got, kid)
	}
	if got := get(t, "interaction", kept["id"].(string))["contact"]; got != kid {
		t.Errorf("the survivor's interaction references %v", got)
	}
	mergeNote := func(id, field string) any {
		var h struct {
			Items []struct {
				Op      string
				Changes []struct {
					Field string
					After any
				}
			}
		}
		do(t, "", http.MethodGet, "/api/v1/records/contact/"+id+"/history", nil, &h, http.StatusOK)
		for _, e := range h.Items {
			for _, c := range e.Changes {
				if e.Op == "merge" && c.Field == field {
					return c.After
				}
			}
		}
		return fmt.Sprint(h.Items)
	}
	if got := mergeNote(did, "mergedInto"); got != kid {
		t.Errorf("the duplicate's history: mergedInto %v, want %s", got, kid)
	}
	if got := mergeNote(kid, "mergedFrom"); got != did {
		t.Errorf("the survivor's history: mergedFrom %v, want %s", got, did)
	}

	ended(t, insts[1], "End_Deleted", 30*time.Second)
	eventually(t, "the survivor's cadence waiting for its next follow-up", 30*time.Second, func() (bool, string) {
		d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), insts[0], "")
		if err != nil {
			return false, err.Error()
		}
		s := snapshot(t, insts[0])
		return d.GetWorkflowExecutionInfo().GetStatus().String() == "Running" && slices.Contains(s.ActiveElements, "Gateway_Wait") &&
			len(s.Incidents) == 0, strings.Join(s.ActiveElements, ",")
	})
	env.Temporal.TerminateWorkflow(context.Background(), insts[0], "", "end of test")
}
