package chaos_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// TestChaosKillDevWith200InFlight sends SIGKILL to `rapport dev` while 200 instances are in flight —
// some writing their note, some inside the ERP call (the plugin pauses after storing each order), some
// on timers, some waiting at a user task — and starts it again on the same data directory: every
// instance completes (its timer fired, its task was completed), every lead, note and ERP order exists
// exactly once.
func TestChaosKillDevWith200InFlight(t *testing.T) {
	needChaos(t)
	t.Parallel()
	const n = 200
	dataDir, erpDir, logs := t.TempDir(), t.TempDir(), t.TempDir()
	if err := stacktest.InstallPlugin(dataDir, "testplugin", testPlugin); err != nil {
		t.Fatal(err)
	}
	args := []string{"dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--mongo-addr", "127.0.0.1:0",
		"--temporal-addr", "127.0.0.1:0", "--metrics-addr", "", "--admin-email", stacktest.AdminEmail,
		"--admin-password", stacktest.AdminPassword, "--rate-limit", "100000", "--rate-burst", "100000"}
	logPath := filepath.Join(logs, "rapport.log")
	p := startRapport(t, logPath, args...)
	defer func() { p.stop() }()
	w := p.connect(t, erpDir)
	w.configureERP(300 * time.Millisecond)
	w.publish("chaos-kill", chain("chaos-kill", writeStep("Note"), orderStep("Order"), timerStep("Wait", "45s"), confirmStep("Confirm", w.adminID())))

	leads := w.createLeads(n, 8, "kill")
	if len(leads) != n {
		t.Fatalf("%d of %d leads acknowledged before the kill", len(leads), n)
	}
	// Kill when the ERP holds 40% of the orders: the rest are before or inside their ERP call.
	if !waitFor(5*time.Minute, func() bool { return len(w.orders()) >= n*2/5 }) {
		t.Fatalf("only %d ERP orders after 5 minutes", len(w.orders()))
	}
	atKill := fmt.Sprintf("at the kill: %d notes, %d ERP orders, %d instances on their timer, %d at their user task",
		sum(w.notes()), sum(w.orders()), w.countWhere("chaos-kill", "Wait"), w.countWhere("chaos-kill", "Confirm"))
	p.kill()
	killed := time.Now()

	p = startRapport(t, logPath, args...)
	restarted := time.Since(killed)
	w = p.connect(t, erpDir)
	completed := 0
	deadline := time.Now().Add(12 * time.Minute)
	for completed < n && time.Now().Before(deadline) {
		w.completeTasks()
		_, completed = w.instances("chaos-kill")
		time.Sleep(2 * time.Second)
	}
	report(t, "SIGKILL of rapport dev with 200 in flight", w.count("chaos-kill", leads, true, true),
		fmt.Sprintf("%s; restarted in %s; all instances done %s after the kill", atKill, restarted.Round(time.Second), time.Since(killed).Round(time.Second)))
	if completed < n {
		t.Logf("server log: %s", logPath)
	}
}

// TestChaosKillWorker runs the server (with the embedded store and Temporal) in this process and two
// workers as separate `rapport worker` processes, sends the first SIGKILL while instances are in
// flight, and the second takes over: every instance completes with one note and one ERP order per
// lead. Both workers' plugin processes write the test ERP's one file (it locks it), and each worker
// installs the ERP connector on its first connector tasks, several at once, because it was
// configured after the workers started: each worker must run one plugin process for it.
func TestChaosKillWorker(t *testing.T) {
	needChaos(t)
	t.Parallel()
	const n = 60
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cfg := quietConfig(t)
	cfg.Work = false
	if err := stacktest.InstallPlugin(cfg.DataDir, "testplugin", testPlugin); err != nil {
		t.Fatal(err)
	}
	env, err := stacktest.StartWith(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	worker := func(name string) *proc {
		return startRapport(t, filepath.Join(logs, name+".log"), "worker", "--mongodb-uri", env.Stack.MongoURI,
			"--temporal-address", env.Stack.TemporalAddr, "--plugins-dir", filepath.Join(cfg.DataDir, "plugins"),
			"--secret-key", strings.TrimSpace(string(key)), "--metrics-addr", "")
	}
	first, second := worker("first"), worker("second")
	defer second.stop()
	w := worldOf(t, env, t.TempDir())
	w.configureERP(300 * time.Millisecond)
	w.publish("chaos-worker", chain("chaos-worker", writeStep("Note"), orderStep("Order"), timerStep("Wait", "20s")))

	leads := w.createLeads(n, 4, "worker kill")
	if len(leads) != n {
		t.Fatalf("%d of %d leads acknowledged", len(leads), n)
	}
	if !waitFor(5*time.Minute, func() bool { return len(w.orders()) >= n/3 }) {
		t.Fatalf("only %d ERP orders after 5 minutes", len(w.orders()))
	}
	atKill := fmt.Sprintf("at the kill: %d notes, %d ERP orders, %d instances on their timer; plugin processes of the first worker %d, of the second %d",
		sum(w.notes()), sum(w.orders()), w.countWhere("chaos-worker", "Wait"), pluginProcesses(first), pluginProcesses(second))
	first.kill()
	killed := time.Now()
	if !waitFor(12*time.Minute, func() bool { _, done := w.instances("chaos-worker"); return done == n }) {
		t.Errorf("the second worker did not finish every instance (logs in %s)", logs)
	}
	report(t, "SIGKILL of a worker, a second takes over", w.count("chaos-worker", leads, true, true),
		fmt.Sprintf("%s; all instances done %s after the kill", atKill, time.Since(killed).Round(time.Second)))
}

// pluginProcesses counts the plugin processes p runs: its children whose program is an installed
// plugin's binary (the host names it connector).
func pluginProcesses(p *proc) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(p.cmd.Process.Pid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if argv0, _, _ := bytes.Cut(cmdline, []byte{0}); filepath.Base(string(argv0)) == "connector" {
			n++
		}
	}
	return n
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countWhere counts a process's running instances whose active elements include element.
func (w *world) countWhere(key, element string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := w.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "rapport",
		Query: fmt.Sprintf("RapportProcessKey = '%s' AND RapportActiveElements = '%s' AND ExecutionStatus = 'Running'", key, element)})
	if err != nil {
		return -1
	}
	return resp.GetCount()
}
