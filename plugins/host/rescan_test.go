package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// installVersion writes the test plugin into root/name as "version" n: the binary with
// n bytes appended (still the same program, with a different checksum), and a manifest
// with that checksum, replacing the binary by rename as an installer does.
func installVersion(t *testing.T, root, name string, n int) string {
	t.Helper()
	dir := filepath.Join(root, name)
	b, err := os.ReadFile(testBins["testplugin"])
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, strings.Repeat("v", n)...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".connector.tmp")
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "connector")); err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(filepath.Join(dir, "connector"))
	if err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir, Manifest{Name: name, Binary: "connector", SHA256: sum, ProtocolVersion: connector.ProtocolVersion})
	return sum
}

// TestInstalledWhileRunning is issue 18's fourth point: a plugin copied into the
// directory of a running host was "not installed" until a restart.
func TestInstalledWhileRunning(t *testing.T) {
	root := t.TempDir()
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	if _, err := h.Describe(t.Context(), "late"); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("before install: %v, want not found", err)
	}
	installVersion(t, root, "late", 0)
	rep, err := h.Rescan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Added, []string{"late"}) || len(rep.Upgraded)+len(rep.Removed) != 0 {
		t.Errorf("report %+v, want late added", rep)
	}
	in, err := h.Configure(t.Context(), "late-1", "late", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatalf("configure the new plugin: %v", err)
	}
	if _, err := in.Health(t.Context(), connector.HealthRequest{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := h.Rescan(t.Context()); err != nil || rep.Changed() {
		t.Errorf("rescan of an unchanged directory: %+v, %v", rep, err)
	}
}

// TestWatchFindsNewPlugin: without any call, the host notices a new plugin folder.
func TestWatchFindsNewPlugin(t *testing.T) {
	root := t.TempDir()
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: 20 * time.Millisecond})
	installVersion(t, root, "watched", 0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		if ps := h.Plugins(); len(ps) == 1 && ps[0].Name == "watched" && ps[0].Err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the watch never listed the new plugin: %+v", h.Plugins())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := h.Describe(t.Context(), "watched"); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeDrainsOldProcess: a new binary and checksum move the instance to a new
// process; the call the old process was serving completes there, the old process then
// exits, and calls after the upgrade run on the new one.
func TestUpgradeDrainsOldProcess(t *testing.T) {
	root := t.TempDir()
	installVersion(t, root, "erp", 0)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1, CallTimeout: 30 * time.Second})
	data := t.TempDir()
	in, err := h.Configure(t.Context(), "erp-1", "erp", cfgJSON(t, testconn.Config{Dir: data, CreateDelayMS: 1500}))
	if err != nil {
		t.Fatal(err)
	}
	oldPID := in.PID()
	type result struct {
		r   connector.CreateSalesOrderResponse
		err error
	}
	slow := make(chan result, 1)
	go func() {
		r, err := in.CreateSalesOrder(context.Background(), connector.CreateSalesOrderRequest{IdempotencyKey: "during-upgrade",
			CustomerID: "C1", Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "1"}}})
		slow <- result{r, err}
	}()
	// Wait until the old process has the call (its order is persisted before the pause).
	waitFor(t, func() bool { s, _ := testconn.Load(data); return len(s.Orders) == 1 })

	newSum := installVersion(t, root, "erp", 1)
	rep, err := h.Rescan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Upgraded, []string{"erp"}) || len(rep.Instances) != 1 || rep.Instances[0].Action != "upgraded" {
		t.Fatalf("report %+v, want erp upgraded with its instance", rep)
	}
	newPID := in.PID()
	if newPID == 0 || newPID == oldPID {
		t.Fatalf("after the upgrade the instance runs pid %d (old %d)", newPID, oldPID)
	}
	if processGone(oldPID) {
		t.Fatal("the old process was stopped while it was serving a call")
	}
	if r := <-slow; r.err != nil || !r.r.Created {
		t.Fatalf("the call in flight during the upgrade: %+v, %v", r.r, r.err)
	}
	waitFor(t, func() bool { return processGone(oldPID) })
	g, err := in.GetOrder(t.Context(), connector.GetOrderRequest{ID: "T-1"})
	if err != nil || g.Order.ID != "T-1" {
		t.Fatalf("call after the upgrade: %+v, %v", g, err)
	}
	if in.PID() != newPID {
		t.Errorf("the call after the upgrade ran on pid %d, want the new %d", in.PID(), newPID)
	}
	if got := h.Plugins()[0].Manifest.SHA256; got != newSum {
		t.Errorf("listed checksum %s, want the new %s", got, newSum)
	}
}

// TestFailedUpgradeKeepsOldProcess: a new manifest whose checksum the binary does not
// match, or that is broken, leaves the instance on the binary it runs.
func TestFailedUpgradeKeepsOldProcess(t *testing.T) {
	root := t.TempDir()
	installVersion(t, root, "erp", 0)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	in, err := h.Configure(t.Context(), "erp-1", "erp", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	pid := in.PID()
	dir := filepath.Join(root, "erp")
	m, err := LoadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, want string
		write      func()
	}{
		{"wrong checksum", "checksum", func() { m.SHA256 = strings.Repeat("ab", 32); writeManifest(t, dir, m) }},
		{"manifest half written", "parse manifest", func() { os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"name":"er`), 0o644) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.write()
			rep, err := h.Rescan(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Instances) != 1 || rep.Instances[0].Action != "kept" || !strings.Contains(rep.Instances[0].Error, tt.want) {
				t.Fatalf("report %+v, want the instance kept with an error mentioning %q", rep, tt.want)
			}
			if _, err := in.GetOrder(t.Context(), connector.GetOrderRequest{ID: "T-1"}); !errors.Is(err, connector.ErrNotFound) {
				t.Errorf("call on the kept process: %v, want the plugin's own not found", err)
			}
			if in.PID() != pid {
				t.Errorf("pid %d, want the old %d still serving", in.PID(), pid)
			}
		})
	}
	// Fixing the manifest upgrades on the next rescan.
	installVersion(t, root, "erp", 2)
	rep, err := h.Rescan(t.Context())
	if err != nil || len(rep.Instances) != 1 || rep.Instances[0].Action != "upgraded" {
		t.Fatalf("rescan after the fix: %+v, %v", rep, err)
	}
}

// TestRemovedPluginStopsItsInstances: deleting a plugin's folder stops its instances.
func TestRemovedPluginStopsItsInstances(t *testing.T) {
	root := t.TempDir()
	installVersion(t, root, "gone", 0)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	in, err := h.Configure(t.Context(), "gone-1", "gone", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	pid := in.PID()
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	rep, err := h.Rescan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Removed, []string{"gone"}) || len(rep.Instances) != 1 || rep.Instances[0].Action != "stopped" {
		t.Fatalf("report %+v", rep)
	}
	waitFor(t, func() bool { return processGone(pid) })
	if _, err := h.Instance("gone-1"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("instance of a removed plugin: %v", err)
	}
	if _, err := h.Describe(t.Context(), "gone"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("removed plugin: %v", err)
	}
}

// TestStagingFoldersIgnored: an installer's dot-folder is not a plugin.
func TestStagingFoldersIgnored(t *testing.T) {
	root := t.TempDir()
	installVersion(t, root, ".staging-erp", 0)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	if ps := h.Plugins(); len(ps) != 0 {
		t.Errorf("Plugins() = %+v, want none", ps)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInstanceNameIsCopied: the API hands the host instance names that alias a request buffer Fiber
// reuses; the host must keep its own copy, or the instance later answers to another name (and a
// removed one comes back).
func TestInstanceNameIsCopied(t *testing.T) {
	root := t.TempDir()
	installVersion(t, root, "erp", 0)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	buf := []byte("erp-1")
	name := unsafe.String(&buf[0], len(buf))
	if _, err := h.Configure(t.Context(), name, "erp", cfgJSON(t, testconn.Config{Dir: t.TempDir()})); err != nil {
		t.Fatal(err)
	}
	copy(buf, "ghost") // the next request reuses the buffer
	if _, err := h.Instance("erp-1"); err != nil {
		t.Fatalf("the instance no longer answers to its name: %v (instances %v)", err, h.Instances())
	}
	if _, err := h.Instance("ghost"); err == nil {
		t.Fatal("the instance answers to the reused buffer's new content")
	}
}
