package erpsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/workflows/erpsync"
)

// The customers-phase tests run the activity on an embedded FerretDB with the real record store and
// real connector plugins in the plugin host: the CSV connector (which declares customers.list) and the
// host's test plugin (which does not).
var (
	db      *mongo.Database
	store   *records.Store
	plugins *host.Host
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var stop func()
	var err error
	if db, _, stop, err = ferrettest.Start("rapport"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store = records.New(db, records.Options{})
	if err := store.Install(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Wait()
	dataDir, err := os.MkdirTemp("", "rapport-erpsync-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	for name, pkg := range map[string]string{
		"csv":        "github.com/rapportcrm/rapport/plugins/connectors/csv",
		"testplugin": "github.com/rapportcrm/rapport/plugins/host/internal/testplugin",
	} {
		if err := stacktest.InstallPlugin(dataDir, name, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if plugins, err = host.New(host.Options{Dir: filepath.Join(dataDir, "plugins"), Logger: slog.New(slog.DiscardHandler),
		HealthInterval: -1, ScanInterval: -1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer plugins.Close()
	return m.Run()
}

// activities configures a connector instance of plugin named name and returns the sync's activities.
func activities(t *testing.T, name, plugin string, cfg any) *erpsync.Activities {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plugins.Configure(t.Context(), name, plugin, raw); err != nil {
		t.Fatalf("configure %s: %v", name, err)
	}
	return &erpsync.Activities{Resolver: connections.Resolver{Host: plugins}, Records: store, State: db.Collection("erp_sync")}
}

// importAll runs the customers activity page after page until it is done, as the workflow does.
func importAll(t *testing.T, a *erpsync.Activities, in erpsync.Input) erpsync.Summary {
	t.Helper()
	var sum erpsync.Summary
	for page := 0; page < 20; page++ {
		res, err := a.ImportCustomers(t.Context(), in)
		if err != nil {
			t.Fatalf("page %d: %v", page+1, err)
		}
		sum.Pages++
		sum.Leads += res.Leads
		sum.Matched += res.Matched
		sum.Skipped += res.Skipped
		if res.Done {
			return sum
		}
	}
	t.Fatal("the customers phase did not finish in 20 pages")
	return sum
}

func mustCreate(t *testing.T, entity string, fields map[string]any) records.Record {
	t.Helper()
	res, err := store.Create(t.Context(), entity, fields, records.WriteOptions{Actor: records.ChangedBy{Via: "api"}})
	if err != nil {
		t.Fatalf("create %s: %v", entity, err)
	}
	return res.Record
}

func leadsOf(t *testing.T, conn string) map[string]records.Record {
	t.Helper()
	page, err := store.List(t.Context(), "lead", records.ListParams{Filter: `externalId startsWith "` + conn + `:"`, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]records.Record{}
	for _, l := range page.Items {
		out[l["externalId"].(string)] = l
	}
	return out
}

// TestCustomersBecomeLeadsOnce: of seven ERP customers, those known as a company (tax ID or email), a
// contact (email or phone) or a lead (email) are counted as matched; the two unknown ones become leads
// with source "erp", one without the phone Rapport cannot parse. Pages of two resume from the stored
// cursor; a run from a lost checkpoint and a run after the ERP changed a customer create no second lead.
func TestCustomersBecomeLeadsOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(rows string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "customers.csv"), []byte("id,name,tax_id,email,phone,street,city,postal_code,country,updated_at\n"+rows), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rows := "K1,Known By Tax LLC,7705000011,,,,,,RU,2026-04-01\n" +
		"K2,Known By Email,,Kate@KnownContact.example,,,,,RU,2026-04-01\n" +
		"K3,Known By Phone,,,+7 916 000-00-03,,,,RU,2026-04-01\n" +
		"K4,Known Lead,,lena@knownlead.example,,,,,RU,2026-04-01\n" +
		"K5,Known Company Mail,,office@knowncompany.example,,,,,RU,2026-04-01\n" +
		"N1,New Buyer LLC,7705000099,buyer@newbuyer.example,+7 916 000-00-09,,,,RU,2026-04-02\n" +
		"N2,Nina Nophone,,nina@nophone.example,not a phone,,,,RU,2026-04-03\n"
	write(rows)
	mustCreate(t, "company", map[string]any{"name": "Known By Tax LLC", "taxId": "7705000011"})
	mustCreate(t, "contact", map[string]any{"firstName": "Kate", "emails": []any{"kate@knowncontact.example"}})
	mustCreate(t, "contact", map[string]any{"firstName": "Kirill", "phones": []any{"+79160000003"}})
	mustCreate(t, "lead", map[string]any{"source": "api", "name": "Lena", "email": "lena@knownlead.example"})
	mustCreate(t, "company", map[string]any{"name": "Known Company", "emails": []any{"office@knowncompany.example"}})
	a := activities(t, "leads-erp", "csv", map[string]string{"dir": dir})
	in := erpsync.Input{Connector: "leads-erp", PageSize: 2}

	if sum := importAll(t, a, in); sum.Leads != 2 || sum.Matched != 5 || sum.Skipped != 0 || sum.Pages != 4 {
		t.Fatalf("first run: %+v, want 2 leads and 5 matched over 4 pages of 2", sum)
	}
	leads := leadsOf(t, "leads-erp")
	n1, n2 := leads["leads-erp:N1"], leads["leads-erp:N2"]
	if len(leads) != 2 || n1 == nil || n2 == nil {
		t.Fatalf("leads: %v, want those of N1 and N2", leads)
	}
	if n1["source"] != "erp" || n1["name"] != "New Buyer LLC" || n1["companyName"] != "New Buyer LLC" || n1["taxId"] != "7705000099" ||
		n1["email"] != "buyer@newbuyer.example" || n1["phone"] != "+79160000009" || n1["status"] != "new" {
		t.Errorf("N1's lead: %+v", n1)
	}
	if n2["source"] != "erp" || n2["email"] != "nina@nophone.example" || n2["phone"] != nil {
		t.Errorf("N2's lead (its phone cannot be stored): %+v", n2)
	}

	// The next run lists only what changed since the newest change seen (N2's, 2026-04-03): nothing new.
	if sum := importAll(t, a, in); sum.Leads != 0 || sum.Matched != 1 {
		t.Errorf("second run: %+v, want N2 listed again and matched", sum)
	}
	// A lost checkpoint lists everything again: still no second lead.
	if _, err := db.Collection("erp_sync").DeleteOne(t.Context(), bson.D{{Key: "_id", Value: "leads-erp:customers"}}); err != nil {
		t.Fatal(err)
	}
	if sum := importAll(t, a, in); sum.Leads != 0 || sum.Matched != 7 {
		t.Errorf("run from scratch: %+v, want all 7 matched", sum)
	}
	// The ERP renames N1 and changes its email: its lead is found by the ERP reference.
	write(strings.Replace(rows, "N1,New Buyer LLC,7705000099,buyer@newbuyer.example,+7 916 000-00-09,,,,RU,2026-04-02",
		"N1,New Buyer Group,7705000099,sales@newbuyer.example,,,,,RU,2026-05-01", 1))
	if sum := importAll(t, a, in); sum.Leads != 0 {
		t.Errorf("run after the ERP changed N1: %+v, want no new lead", sum)
	}
	if got := leadsOf(t, "leads-erp"); len(got) != 2 {
		t.Errorf("leads after four runs: %d, want 2", len(got))
	}
}

// TestCustomersPhaseSkippedWithoutTheCapability: a connector that does not declare customers.list (the
// host's test plugin, like any plugin built before the method existed) ends the phase at once, creating
// nothing and failing nothing.
func TestCustomersPhaseSkippedWithoutTheCapability(t *testing.T) {
	a := activities(t, "orders-only", "testplugin", map[string]string{"dir": t.TempDir()})
	res, err := a.ImportCustomers(t.Context(), erpsync.Input{Connector: "orders-only"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.Leads != 0 || res.Matched != 0 || res.Skipped != 0 {
		t.Errorf("customers phase without customers.list: %+v, want done with nothing counted", res)
	}
	if leads := leadsOf(t, "orders-only"); len(leads) != 0 {
		t.Errorf("leads: %v", leads)
	}
}
