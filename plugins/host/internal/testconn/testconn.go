// Package testconn is a small file-backed connector used by the host's fault tests and
// benchmark. Its configuration can make it misbehave on purpose: hang in every call, or
// pause after persisting a sales order so a test can kill the process mid-call.
package testconn

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// Config is the test connector's configuration.
type Config struct {
	Dir           string `json:"dir"`
	Mode          string `json:"mode,omitempty"`            // "", "hang", or "bad-output" (operations break their output schema)
	CreateDelayMS int    `json:"create_delay_ms,omitempty"` // pause after persisting a new order
}

const schema = `{"type":"object","required":["dir"],"additionalProperties":false,
 "properties":{"dir":{"type":"string","minLength":1},"mode":{"enum":["","hang","bad-output"]},
 "create_delay_ms":{"type":"integer","minimum":0},"api_key":{"type":"string","writeOnly":true}}}`

// StoreFile is the JSON file, inside Config.Dir, holding the created orders.
const StoreFile = "orders.json"

// Store is the persisted state: orders by ID and the idempotency index.
type Store struct {
	Orders map[string]connector.Order `json:"orders"`
	Keys   map[string]string          `json:"keys"`
}

// Connector implements connector.Connector for tests.
type Connector struct {
	connector.Unimplemented
	mu  sync.Mutex
	cfg Config
}

// CountOp is the test connector's described operation: how many orders a customer has.
var CountOp = connector.Operation{Name: "orders.count", Description: "Counts a customer's orders.",
	Input:  json.RawMessage(`{"type":"object","required":["customerId"],"additionalProperties":false,"properties":{"customerId":{"type":"string","minLength":1}}}`),
	Output: json.RawMessage(`{"type":"object","required":["count"],"properties":{"count":{"type":"integer","minimum":0}}}`)}

// Describe declares orders.get, orders.list and orders.create, and the orders.count operation.
func (c *Connector) Describe(context.Context, connector.DescribeRequest) (connector.DescribeResponse, error) {
	return connector.DescribeResponse{Name: "testplugin", Version: "0.0.1", Vendor: "Rapport tests",
		Capabilities: []connector.Capability{connector.CapGetOrder, connector.CapListOrders, connector.CapCreateSalesOrder},
		ConfigSchema: json.RawMessage(schema), Operations: []connector.Operation{CountOp}}, nil
}

// Invoke runs orders.count; in mode "bad-output" it answers a count that is a string.
func (c *Connector) Invoke(ctx context.Context, req connector.InvokeRequest) (connector.InvokeResponse, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return connector.InvokeResponse{}, err
	}
	if req.Operation != CountOp.Name {
		return connector.InvokeResponse{}, connector.UnknownOperation(req.Operation)
	}
	var in struct {
		CustomerID string `json:"customerId"`
	}
	if err := req.Decode(&in); err != nil {
		return connector.InvokeResponse{}, err
	}
	if cfg.Mode == "bad-output" {
		return connector.Output(map[string]string{"count": "many"})
	}
	s, err := Load(cfg.Dir)
	if err != nil {
		return connector.InvokeResponse{}, connector.Internal("%w", err)
	}
	n := 0
	for _, o := range s.Orders {
		if o.CustomerID == in.CustomerID {
			n++
		}
	}
	return connector.Output(map[string]int{"count": n})
}

// Configure stores the configuration.
func (c *Connector) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	var cfg Config
	if err := json.Unmarshal(req.Config, &cfg); err != nil {
		return connector.ConfigureResponse{}, connector.Invalid("decode configuration: %v", err)
	}
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return connector.ConfigureResponse{}, connector.Invalid("dir %q is not a directory", cfg.Dir)
	}
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
	return connector.ConfigureResponse{}, ctx.Err()
}

func (c *Connector) config(ctx context.Context) (Config, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg.Mode == "hang" {
		select {} // ignore the context on purpose: the host must time the call out
	}
	return cfg, ctx.Err()
}

// Health answers OK unless the connector hangs.
func (c *Connector) Health(ctx context.Context, _ connector.HealthRequest) (connector.HealthResponse, error) {
	if _, err := c.config(ctx); err != nil {
		return connector.HealthResponse{}, err
	}
	return connector.HealthResponse{OK: true}, nil
}

// Load reads the store of dir.
func Load(dir string) (Store, error) {
	s := Store{Orders: map[string]connector.Order{}, Keys: map[string]string{}}
	b, err := os.ReadFile(filepath.Join(dir, StoreFile))
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read store: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse store: %w", err)
	}
	return s, nil
}

// save replaces the store of dir with s: a temporary file of its own (two plugin processes may
// save at once), synced before the rename and the directory after it, so the file holds either
// the old or the new store, also after a crash. Callers hold the store's lock (lockStore).
func save(dir string, s Store) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode store: %w", err)
	}
	f, err := os.CreateTemp(dir, StoreFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write store: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write store: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StoreFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace store: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("sync store directory: %w", err)
		}
	}
	return nil
}

// GetOrder returns a stored order.
func (c *Connector) GetOrder(ctx context.Context, req connector.GetOrderRequest) (connector.GetOrderResponse, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	if req.ID == "" {
		return connector.GetOrderResponse{}, connector.Invalid("id is required")
	}
	s, err := Load(cfg.Dir)
	if err != nil {
		return connector.GetOrderResponse{}, connector.Internal("%w", err)
	}
	o, ok := s.Orders[req.ID]
	if !ok {
		return connector.GetOrderResponse{}, connector.NotFound("order %q", req.ID)
	}
	return connector.GetOrderResponse{Order: o}, nil
}

// ListOrders returns every stored order of the customer on one page.
func (c *Connector) ListOrders(ctx context.Context, req connector.ListOrdersRequest) (connector.ListOrdersResponse, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	if _, err := connector.PageLimit(req.Limit); err != nil {
		return connector.ListOrdersResponse{}, err
	}
	s, err := Load(cfg.Dir)
	if err != nil {
		return connector.ListOrdersResponse{}, connector.Internal("%w", err)
	}
	var out []connector.Order
	for i := 1; i <= len(s.Orders); i++ {
		if o := s.Orders[fmt.Sprintf("T-%d", i)]; req.CustomerID == "" || o.CustomerID == req.CustomerID {
			out = append(out, o)
		}
	}
	return connector.ListOrdersResponse{Orders: out}, nil
}

// create stores the order of req unless its idempotency key already names one, which it returns
// instead. The read, the check and the write happen under the store's lock: besides this
// process's mutex an OS file lock, since every plugin process configured on the same directory
// (two workers, an old and a new process) writes the same file, and a read-modify-write of the
// whole file by two of them at once would drop the order of the one that wrote first.
func (c *Connector) create(dir string, req connector.CreateSalesOrderRequest) (o connector.Order, created bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := lockStore(dir)
	if err != nil {
		return o, false, err
	}
	defer unlock()
	s, err := Load(dir)
	if err != nil {
		return o, false, err
	}
	if id, ok := s.Keys[req.IdempotencyKey]; ok {
		return s.Orders[id], false, nil
	}
	o = connector.Order{ID: fmt.Sprintf("T-%d", len(s.Orders)+1), CustomerID: req.CustomerID, Currency: req.Currency,
		Lines: req.Lines, Reference: req.Reference, State: "draft"}
	s.Orders[o.ID], s.Keys[req.IdempotencyKey] = o, o.ID
	if err := save(dir, s); err != nil {
		return o, false, err
	}
	return o, true, nil
}

// CreateSalesOrder persists an order once per idempotency key, then optionally pauses.
func (c *Connector) CreateSalesOrder(ctx context.Context, req connector.CreateSalesOrderRequest) (connector.CreateSalesOrderResponse, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	if req.IdempotencyKey == "" || req.CustomerID == "" || len(req.Lines) == 0 {
		return connector.CreateSalesOrderResponse{}, connector.Invalid("idempotency key, customer and lines are required")
	}
	o, created, err := c.create(cfg.Dir, req)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, connector.Internal("%w", err)
	}
	if !created {
		return connector.CreateSalesOrderResponse{Order: o}, nil
	}
	if cfg.CreateDelayMS > 0 {
		select {
		case <-time.After(time.Duration(cfg.CreateDelayMS) * time.Millisecond):
		case <-ctx.Done():
			return connector.CreateSalesOrderResponse{}, ctx.Err()
		}
	}
	return connector.CreateSalesOrderResponse{Order: o, Created: true}, nil
}
