package chaos_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// TestChaosPluginKilledMidTask kills the connector plugin's process while it is inside CreateSalesOrder
// for several instances at once (the orders are stored in the ERP, the answers not yet sent): the
// tasks fail, Temporal retries them, the host launches the plugin again and the idempotency keys make
// the ERP return the orders it already has — exactly one ERP document per instance, every instance
// completes, and /metrics counts the restart.
func TestChaosPluginKilledMidTask(t *testing.T) {
	needChaos(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cfg := quietConfig(t)
	if err := stacktest.InstallPlugin(cfg.DataDir, "testplugin", testPlugin); err != nil {
		t.Fatal(err)
	}
	cfg.MetricsAddr = "127.0.0.1:0"
	env, err := stacktest.StartWith(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	w := worldOf(t, env, t.TempDir())
	w.configureERP(4 * time.Second) // each new order is stored, then the plugin sleeps before answering
	w.publish("chaos-plugin", chain("chaos-plugin", orderStep("Order")))

	const n = 6
	leads := w.createLeads(n, n, "plugin kill")
	if len(leads) != n {
		t.Fatalf("%d of %d leads created", len(leads), n)
	}
	// Kill once every order is stored: all n calls are asleep inside the plugin.
	if !waitFor(2*time.Minute, func() bool { return len(w.orders()) == n }) {
		t.Fatalf("the ERP holds %d orders, want %d before the kill", len(w.orders()), n)
	}
	in, err := env.Stack.Plugins.Instance("erp")
	if err != nil {
		t.Fatal(err)
	}
	pid := in.PID()
	if pid <= 0 {
		t.Fatal("the plugin process is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if !waitFor(5*time.Minute, func() bool { _, done := w.instances("chaos-plugin"); return done == n }) {
		t.Errorf("not every instance completed after the plugin was killed")
	}
	recovered := time.Since(killed)
	restarts := metric(t, env.Stack.MetricsURL, `rapport_plugin_launches_total{plugin="testplugin",reason="restart"}`)
	if newPID := in.PID(); newPID == pid || newPID <= 0 {
		t.Errorf("plugin process %d after the kill of %d", newPID, pid)
	}
	if restarts == "" {
		t.Errorf("/metrics counts no plugin restart")
	}
	report(t, "plugin killed mid-task", w.count("chaos-plugin", leads, false, true),
		fmt.Sprintf("plugin pid %d killed with %d calls inside it; all instances done %s later; plugin restarts on /metrics: %s", pid, n, recovered.Round(time.Second), restarts))
}

// metric returns the value of one series on the metrics page, empty when it is not there.
func metric(t *testing.T, url, series string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
