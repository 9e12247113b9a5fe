package e2e_test

import (
	"net/http"
	"testing"
	"time"
)

// TestOrdersMoveTheContactUpTheLadder: a prospect's first order makes them a customer, the second a
// client; the contact carries its order count and total, and its history shows each move made by the
// loyalty-ladder process together with the rule that made it.
func TestOrdersMoveTheContactUpTheLadder(t *testing.T) {
	c := create(t, "contact", map[string]any{"firstName": "Oleg", "lastName": "Orders", "loyaltyStage": "prospect"})
	id := c["id"].(string)
	order := func(n string, amount float64) {
		create(t, "order", map[string]any{"number": n, "date": time.Now().UTC().Format(time.DateOnly), "contact": id,
			"amount": map[string]any{"amount": amount, "currency": "RUB"}})
	}
	order("LL-1", 1000)
	rec := waitRecord(t, "contact", id, 90*time.Second, func(r map[string]any) bool { return r["loyaltyStage"] == "customer" })
	if rec["loyaltyStageRule"] != "the first order" || rec["orderCount"] != float64(1) {
		t.Errorf("after the first order: %+v", rec)
	}
	order("LL-2", 2500)
	rec = waitRecord(t, "contact", id, 90*time.Second, func(r map[string]any) bool { return r["loyaltyStage"] == "client" })
	total, _ := rec["orderTotal"].(map[string]any)
	if rec["loyaltyStageRule"] != "a repeat buyer" || rec["orderCount"] != float64(2) || total["amount"] != float64(3500) {
		t.Errorf("after the second order: %+v", rec)
	}

	var hist struct {
		Items []struct {
			Actor   struct{ Process, RunAs string }
			Changes []struct {
				Field         string
				Before, After any
			}
		}
	}
	do(t, "", http.MethodGet, "/api/v1/records/contact/"+id+"/history", nil, &hist, http.StatusOK)
	var moves []string
	for _, h := range hist.Items {
		stage, rule := "", ""
		for _, ch := range h.Changes {
			switch ch.Field {
			case "loyaltyStage":
				stage, _ = ch.After.(string)
			case "loyaltyStageRule":
				rule, _ = ch.After.(string)
			}
		}
		if stage != "" && h.Actor.RunAs == "process:loyalty-ladder@1" {
			moves = append(moves, stage+" by "+rule)
		}
	}
	if len(moves) != 2 {
		t.Fatalf("moves in the history: %q", moves)
	}
	for _, want := range []string{"customer by the first order", "client by a repeat buyer"} {
		if moves[0] != want && moves[1] != want {
			t.Errorf("no move %q in the history: %q", want, moves)
		}
	}
}
