package e2e_test

import (
	"net/http"
	"testing"
	"time"
)

// TestCadenceCallMovesWithTheOwnerAndAnInteractionResetsIt runs a cadence whose last contact was long
// ago: the call task appears for the owner at once (with a notification and on their day), follows the
// contact to a new owner, and an interaction with the contact closes it and schedules the next
// follow-up an interval (60 days for a prospect) from now.
func TestCadenceCallMovesWithTheOwnerAndAnInteractionResetsIt(t *testing.T) {
	first := newPerson(t, "fiona.first@example.test", []string{"agent"}, nil)
	second := newPerson(t, "gleb.second@example.test", []string{"agent"}, nil)
	c := create(t, "contact", map[string]any{"firstName": "Petr", "lastName": "Prospect", "phones": []any{"+79167770001"},
		"loyaltyStage": "prospect", "owner": first.ID})
	cid := c["id"].(string)
	do(t, "", http.MethodPost, "/api/v1/processes/follow-up-cadence/instances", map[string]any{"businessKey": cid,
		"variables": map[string]any{"entity": "contact", "recordId": cid, "lastTouch": "2020-01-01T00:00:00Z"}}, nil, http.StatusCreated)

	var call map[string]any
	eventually(t, "the call task", 30*time.Second, func() (bool, string) {
		items := list(t, "task", `contact == "`+cid+`" and status == "open"`)
		if len(items) == 1 {
			call = items[0]
		}
		return call != nil, ""
	})
	if call["assignee"] != first.ID || call["title"] != "Call Petr Prospect" || call["kind"] != "call" {
		t.Fatalf("call task: %+v", call)
	}
	eventually(t, "the follow-up notification", 20*time.Second, func() (bool, string) { return notified(t, first.token, "follow-up-due", cid), "" })
	var day struct {
		Items []struct{ Kind, Name, Phone, TaskID string }
	}
	do(t, first.token, http.MethodGet, "/api/v1/my-day", nil, &day, http.StatusOK)
	if len(day.Items) != 1 || day.Items[0].Name != "Petr Prospect" || day.Items[0].Phone != "+79167770001" || day.Items[0].TaskID != call["id"] {
		t.Errorf("the owner's day: %+v", day.Items)
	}

	do(t, "", http.MethodPatch, "/api/v1/records/contact/"+cid, map[string]any{"owner": second.ID}, nil, http.StatusOK)
	waitRecord(t, "task", call["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["assignee"] == second.ID })

	create(t, "interaction", map[string]any{"type": "call", "direction": "outbound", "occurredAt": time.Now().UTC().Format(time.RFC3339), "contact": cid, "summary": "Talked"})
	waitRecord(t, "task", call["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["status"] == "done" })
	next := waitRecord(t, "contact", cid, 30*time.Second, func(r map[string]any) bool {
		d, err := time.Parse(time.RFC3339, r["nextFollowUpAt"].(string))
		return err == nil && d.After(time.Now().Add(59*24*time.Hour))
	})
	if d, _ := time.Parse(time.RFC3339, next["nextFollowUpAt"].(string)); d.After(time.Now().Add(61 * 24 * time.Hour)) {
		t.Errorf("next follow-up %v, want about 60 days from now", d)
	}
}
