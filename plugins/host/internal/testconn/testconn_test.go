package testconn

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// TestTwoWritersLoseNoOrder runs two connectors on one directory — as two plugin processes do
// when two workers, or an old and a new process, serve the same ERP — creating orders at once:
// every order each was told it created is in the store, and a key both were given names one
// order. Each connector has its own mutex, so only the store's file lock keeps one's
// read-modify-write from overwriting the other's.
func TestTwoWritersLoseNoOrder(t *testing.T) {
	dir := t.TempDir()
	cfg, err := json.Marshal(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	writers := []*Connector{{}, {}}
	for _, c := range writers {
		if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: cfg}); err != nil {
			t.Fatal(err)
		}
	}
	const each = 40
	req := func(key string) connector.CreateSalesOrderRequest {
		return connector.CreateSalesOrderRequest{IdempotencyKey: key, CustomerID: "C1", Reference: key,
			Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "1"}}}
	}
	var mu sync.Mutex
	created := map[string]string{} // order ID by the key that created it
	shared := map[string]bool{}    // order IDs answered for the key both writers send
	var wg sync.WaitGroup
	for w, c := range writers {
		wg.Go(func() {
			for i := range each {
				r, err := c.CreateSalesOrder(t.Context(), req(fmt.Sprintf("w%d/%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				s, err := c.CreateSalesOrder(t.Context(), req("both"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, ok := created[r.Order.ID]; ok {
					t.Errorf("order %s created for %s and for w%d/%d", r.Order.ID, prev, w, i)
				}
				created[r.Order.ID] = fmt.Sprintf("w%d/%d", w, i)
				shared[s.Order.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, key := range created {
		if s.Orders[id].Reference != key || s.Keys[key] != id {
			lost++
		}
	}
	if lost != 0 || len(s.Orders) != 2*each+1 {
		t.Errorf("the store holds %d orders, want %d; %d of the %d answered as created are missing", len(s.Orders), 2*each+1, lost, len(created))
	}
	if len(shared) != 1 {
		t.Errorf("the key sent by both writers was answered with %d different orders, want 1", len(shared))
	}
}
