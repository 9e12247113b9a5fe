package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/plugins/sdk/connectortest"
)

// The integration tests run against a real Tryton: TestMain creates a database on
// SQLite with the party, sale and account_invoice modules (trytond-admin, about 20
// seconds), starts trytond on a free loopback port and seeds a company, a currency,
// products, customers and a sale through the JSON-RPC API. Without trytond on PATH the
// tests are skipped (also with -short); set RAPPORT_TRYTON_INSTALL=1 to let TestMain
// apt-get install it.

// tryton describes the server TestMain started, or why there is none.
type tryton struct {
	cfg     json.RawMessage
	pid     int
	skip    string
	workdir string
}

var server tryton

func TestMain(m *testing.M) {
	code, err := runWithTryton(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tryton test setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithTryton(m *testing.M) (int, error) {
	flag.Parse()
	if testing.Short() {
		server.skip = "the Tryton integration tests take about a minute; skipped with -short"
		return m.Run(), nil
	}
	if _, err := exec.LookPath("trytond-admin"); err != nil && os.Getenv("RAPPORT_TRYTON_INSTALL") == "1" {
		cmd := exec.Command("apt-get", "install", "-y", "tryton-server", "tryton-modules-party", "tryton-modules-sale", "tryton-modules-account-invoice")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("install tryton: %w", err)
		}
	}
	if _, err := exec.LookPath("trytond-admin"); err != nil {
		if os.Getenv("RAPPORT_REQUIRE_TRYTON") == "1" {
			// CI installs Tryton; a silent skip there would hide a broken install step.
			return 0, fmt.Errorf("RAPPORT_REQUIRE_TRYTON=1 but trytond-admin is not on PATH: %w", err)
		}
		server.skip = "trytond-admin not on PATH (apt-get install tryton-server tryton-modules-sale tryton-modules-account-invoice, or set RAPPORT_TRYTON_INSTALL=1)"
		return m.Run(), nil
	}
	dir, err := os.MkdirTemp("", "rapport-tryton-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	server.workdir = dir
	stop, err := startTryton(dir)
	if err != nil {
		return 0, err
	}
	defer stop()
	return m.Run(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startTryton(dir string) (stop func(), err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "trytond.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "[database]\nuri = sqlite://\npath = %s\n[web]\nlisten = 127.0.0.1:%d\n", dir, port), 0o600); err != nil {
		return nil, err
	}
	pass := filepath.Join(dir, "admin.pass")
	if err := os.WriteFile(pass, []byte("admin\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "rapport.sqlite"), nil, 0o600); err != nil {
		return nil, err
	}
	admin := exec.Command("trytond-admin", "-c", conf, "-d", "rapport", "--all", "--email", "admin@example.com",
		"-u", "party", "sale", "account_invoice", "--activate-dependencies")
	admin.Env = append(os.Environ(), "TRYTONPASSFILE="+pass)
	if out, err := admin.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("trytond-admin: %w\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "trytond.log"))
	if err != nil {
		return nil, err
	}
	srv := exec.Command("trytond", "-c", conf)
	srv.Stdout, srv.Stderr = logf, logf
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start trytond: %w", err)
	}
	server.pid = srv.Process.Pid
	stop = func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		_ = srv.Wait()
		logf.Close()
	}
	cfg := config{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Database: "rapport", Username: "admin", Password: "admin"}
	rpc := newRPCClient(cfg.URL, cfg.Database, cfg.Username, cfg.Password)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if _, err = rpc.login(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("trytond did not answer: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := seed(ctx, rpc); err != nil {
		stop()
		return nil, fmt.Errorf("seed: %w", err)
	}
	server.cfg, _ = json.Marshal(cfg)
	return stop, nil
}

// seed creates what a fresh company needs for sales: currency, company, products,
// customers and one sale.
func seed(ctx context.Context, rpc *rpcClient) error {
	none := map[string]any{}
	var ids []int64
	if err := rpc.callInto(ctx, &ids, "model.currency.currency.create",
		[]any{map[string]any{"name": "Euro", "code": "EUR", "symbol": "€", "rounding": decimalValue("0.01")}}, none); err != nil {
		return err
	}
	cur := ids[0]
	if err := rpc.callInto(ctx, &ids, "model.party.party.create", []any{map[string]any{"name": "Rapport Demo Company"}}, none); err != nil {
		return err
	}
	if err := rpc.callInto(ctx, &ids, "model.company.company.create", []any{map[string]any{"party": ids[0], "currency": cur}}, none); err != nil {
		return err
	}
	company := ids[0]
	if _, err := rpc.call(ctx, "model.res.user.write", []int64{1}, map[string]any{"companies": []any{[]any{"add", []int64{company}}}, "company": company}, none); err != nil {
		return err
	}
	var units []int64
	if err := rpc.callInto(ctx, &units, "model.product.uom.search", []any{[]any{"symbol", "=", "u"}}, 0, 1, nil, none); err != nil || len(units) == 0 {
		return fmt.Errorf("unit of measure: %v", err)
	}
	cctx := map[string]any{"company": company}
	for code, price := range map[string]string{"WIDGET": "2.50", "GADGET": "40.00"} {
		if err := rpc.callInto(ctx, &ids, "model.product.template.create", []any{map[string]any{"name": strings.ToLower(code), "code": code,
			"type": "goods", "default_uom": units[0], "sale_uom": units[0], "salable": true, "list_price": decimalValue(price),
			"products": []any{[]any{"create", []any{map[string]any{}}}}}}, cctx); err != nil {
			return err
		}
	}
	c := newConnector()
	c.rpc, c.company, c.ctx = rpc, company, cctx
	acme, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: connector.Customer{Name: "Acme Trading GmbH",
		TaxID: "DE123456789", Email: "orders@acme.example", Phone: "+49 30 1111111",
		Address: connector.Address{Street: "Hauptstr. 1", City: "Berlin", PostalCode: "10115"}}})
	if err != nil {
		return err
	}
	_, err = c.CreateSalesOrder(ctx, connector.CreateSalesOrderRequest{IdempotencyKey: "seed-1", CustomerID: acme.Customer.ID,
		Currency: "EUR", Lines: []connector.OrderLine{{ProductCode: "GADGET", Quantity: "2", UnitPrice: "40.00"}}})
	return err
}

func needTryton(t *testing.T) {
	t.Helper()
	if server.skip != "" {
		t.Skip(server.skip)
	}
}

func invalidConfig(t *testing.T) json.RawMessage {
	var cfg config
	if err := json.Unmarshal(server.cfg, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Password = "wrong"
	b, _ := json.Marshal(cfg)
	return b
}

func TestConformanceInProcess(t *testing.T) {
	needTryton(t)
	connectortest.Run(t, func(*testing.T) connector.Connector { return newConnector() },
		connectortest.Options{Config: server.cfg, InvalidConfig: invalidConfig(t), Operations: operationExamples})
}

// operationExamples are the harness's example inputs of the described operations.
var operationExamples = map[string]json.RawMessage{"products.search": json.RawMessage(`{"query":"widget"}`)}

func TestProductsSearch(t *testing.T) {
	needTryton(t)
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: server.cfg}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input string
		want        []string // code=price of each product found
	}{
		{"by code, any case", `{"query":"gadg"}`, []string{"GADGET=40.00"}},
		{"by name", `{"query":"widget"}`, []string{"WIDGET=2.50"}},
		{"both, sorted by code", `{"query":"dget"}`, []string{"GADGET=40.00", "WIDGET=2.50"}},
		{"limit", `{"query":"dget","limit":1}`, []string{"GADGET=40.00"}},
		{"nothing", `{"query":"sprocket"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Invoke(t.Context(), connector.InvokeRequest{Operation: "products.search", Input: json.RawMessage(tt.input)})
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Products []struct{ Code, ListPrice string }
			}
			if err := json.Unmarshal(r.Output, &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range out.Products {
				got = append(got, p.Code+"="+p.ListPrice)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v (output %s)", got, tt.want, r.Output)
			}
		})
	}
}

func TestFindSeededCustomer(t *testing.T) {
	needTryton(t)
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: server.cfg}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  connector.FindCustomersRequest
	}{
		{"tax ID with spaces", connector.FindCustomersRequest{TaxID: "DE 123 456 789"}},
		{"email", connector.FindCustomersRequest{Email: "ORDERS@acme.example"}},
		{"phone compact", connector.FindCustomersRequest{Phone: "+49301111111"}},
		{"name", connector.FindCustomersRequest{Name: "acme trad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.FindCustomers(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Customers) != 1 || r.Customers[0].TaxID != "DE123456789" || r.Customers[0].Address.City != "Berlin" {
				t.Fatalf("got %+v, want the seeded Acme", r.Customers)
			}
			o, err := c.ListOrders(t.Context(), connector.ListOrdersRequest{CustomerID: r.Customers[0].ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Orders) == 0 || o.Orders[0].Total != "80.00" || o.Orders[0].Currency != "EUR" || o.Orders[0].Lines[0].ProductCode != "GADGET" {
				t.Errorf("Acme's first order = %+v, want the seeded 80.00 EUR gadget sale", o.Orders)
			}
		})
	}
}

// TestListSeededCustomers: ListCustomers lists the seeded customer with its tax ID and
// address, not the company's own party, and nothing changed since tomorrow.
func TestListSeededCustomers(t *testing.T) {
	needTryton(t)
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: server.cfg}); err != nil {
		t.Fatal(err)
	}
	var all []connector.Customer
	cursor := ""
	for range 1000 {
		r, err := c.ListCustomers(t.Context(), connector.ListCustomersRequest{Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.Customers...)
		if cursor = r.NextCursor; cursor == "" {
			break
		}
	}
	acme := 0
	for _, cu := range all {
		if cu.Name == "Rapport Demo Company" {
			t.Errorf("the company's own party is listed as a customer: %+v", cu)
		}
		if cu.TaxID == "DE123456789" && cu.Email == "orders@acme.example" && cu.Address.City == "Berlin" {
			acme++
		}
	}
	if acme != 1 {
		t.Errorf("the seeded Acme is listed %d times among %+v, want once", acme, all)
	}
	r, err := c.ListCustomers(t.Context(), connector.ListCustomersRequest{Since: time.Now().Add(24 * time.Hour)})
	if err != nil || len(r.Customers) != 0 {
		t.Errorf("changed since tomorrow: %+v, %v; want none", r.Customers, err)
	}
}

// buildPlugin compiles this connector and installs it in a fresh plugins directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "tryton")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "rapport-connector-tryton")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sum, err := host.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(host.Manifest{Name: "tryton", Binary: "rapport-connector-tryton", SHA256: sum, ProtocolVersion: connector.ProtocolVersion})
	if err := os.WriteFile(filepath.Join(dir, host.ManifestFile), m, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestThroughHost(t *testing.T) {
	needTryton(t)
	h, err := host.New(host.Options{Dir: buildPlugin(t), HealthInterval: -1, CallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	t.Run("conformance", func(t *testing.T) {
		n := 0
		connectortest.Run(t, func(t *testing.T) connector.Connector {
			n++
			in, err := h.Configure(t.Context(), fmt.Sprintf("tryton-%d", n), "tryton", server.cfg)
			if err != nil {
				t.Fatal(err)
			}
			return in
		}, connectortest.Options{Config: server.cfg, InvalidConfig: invalidConfig(t), Operations: operationExamples})
	})

	// The plugin dies while CreateSalesOrder waits on a frozen Tryton; after the
	// restart the retry with the same key leaves exactly one sale in Tryton.
	t.Run("killed during CreateSalesOrder", func(t *testing.T) {
		in, err := h.Configure(t.Context(), "tryton-fault", "tryton", server.cfg)
		if err != nil {
			t.Fatal(err)
		}
		acme, err := in.FindCustomers(t.Context(), connector.FindCustomersRequest{TaxID: "DE123456789"})
		if err != nil || len(acme.Customers) != 1 {
			t.Fatalf("find Acme: %v %+v", err, acme)
		}
		key := fmt.Sprintf("fault-%d", time.Now().UnixNano())
		req := connector.CreateSalesOrderRequest{IdempotencyKey: key, CustomerID: acme.Customers[0].ID, Currency: "EUR",
			Lines: []connector.OrderLine{{ProductCode: "WIDGET", Quantity: "4", UnitPrice: "2.50"}}}
		if err := syscall.Kill(-server.pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		resumed := false
		resume := func() {
			if !resumed {
				resumed = true
				_ = syscall.Kill(-server.pid, syscall.SIGCONT)
			}
		}
		defer resume()
		errc := make(chan error, 1)
		go func() {
			_, err := in.CreateSalesOrder(context.Background(), req)
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond) // let the call reach the frozen server; not a timing assertion
		if err := syscall.Kill(in.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !connector.IsRetryable(err) {
			t.Fatalf("interrupted call: err = %v, want retryable", err)
		}
		resume()
		var r connector.CreateSalesOrderResponse
		for attempt := 0; attempt < 20; attempt++ {
			if r, err = in.CreateSalesOrder(t.Context(), req); err == nil || !connector.IsRetryable(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if _, err := in.CreateSalesOrder(t.Context(), req); err != nil {
			t.Fatalf("second retry: %v", err)
		}
		// Count the sales carrying the key directly in Tryton.
		var cfg config
		_ = json.Unmarshal(server.cfg, &cfg)
		rpc := newRPCClient(cfg.URL, cfg.Database, cfg.Username, cfg.Password)
		var ids []int64
		if err := rpc.callInto(t.Context(), &ids, "model.sale.sale.search", []any{[]any{"reference", "=", key}}, 0, nil, nil, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || fmt.Sprint(ids[0]) != r.Order.ID {
			t.Errorf("Tryton holds sales %v with key %q, want exactly order %s", ids, key, r.Order.ID)
		}
	})
}
