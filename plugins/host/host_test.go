package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/plugins/sdk/connectortest"
)

// Binaries built once by TestMain: the fault-injection test plugin and the CSV connector.
var testBins = map[string]string{}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rapport-plugin-bins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"testplugin": "github.com/rapportcrm/rapport/plugins/host/internal/testplugin",
		"csv":        "github.com/rapportcrm/rapport/plugins/connectors/csv",
	} {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			return 1
		}
		testBins[name] = out
	}
	return m.Run()
}

// install copies a built binary into root/name with a manifest; edit may change the
// manifest before it is written.
func install(t testing.TB, root, name, bin string, edit func(*Manifest)) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(testBins[bin])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "connector"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(filepath.Join(dir, "connector"))
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Name: name, Binary: "connector", SHA256: sum, ProtocolVersion: connector.ProtocolVersion}
	if edit != nil {
		edit(&m)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects JSON log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHost(t testing.TB, root string, opts Options) (*Host, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opts.Dir = root
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h, logs
}

func cfgJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

func TestConformanceCSVThroughHost(t *testing.T) {
	root := t.TempDir()
	install(t, root, "csv", "csv", nil)
	h, _ := newHost(t, root, Options{})
	data := t.TempDir()
	if err := os.CopyFS(data, os.DirFS("../connectors/csv/testdata")); err != nil {
		t.Fatal(err)
	}
	valid := cfgJSON(t, map[string]string{"dir": data})
	n := 0
	connectortest.Run(t, func(t *testing.T) connector.Connector {
		n++
		in, err := h.Configure(t.Context(), fmt.Sprintf("csv-%d", n), "csv", valid)
		if err != nil {
			t.Fatalf("configure instance: %v", err)
		}
		return in
	}, connectortest.Options{Config: valid, InvalidConfig: cfgJSON(t, map[string]string{"dir": filepath.Join(data, "missing")}),
		Operations: map[string]json.RawMessage{"customers.balance": json.RawMessage(`{"customerId":"C-000001"}`)}})
}

func TestConfigValidatedAgainstSchema(t *testing.T) {
	root := t.TempDir()
	install(t, root, "csv", "csv", func(m *Manifest) { m.DefaultConfig = json.RawMessage(`{"currency":"USD"}`) })
	h, _ := newHost(t, root, Options{})
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     string
		wantErr string
	}{
		{"valid, default currency merged", fmt.Sprintf(`{"dir":%q}`, dir), ""},
		{"missing required dir", `{}`, "dir"},
		{"unknown field", fmt.Sprintf(`{"dir":%q,"colour":"red"}`, dir), "colour"},
		{"bad currency pattern", fmt.Sprintf(`{"dir":%q,"currency":"euro"}`, dir), "currency"},
		{"not an object", `[1]`, "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, err := h.ValidateConfig(t.Context(), "csv", json.RawMessage(tt.cfg))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(merged), `"currency":"USD"`) {
					t.Errorf("merged %s lacks the manifest default", merged)
				}
				return
			}
			if !errors.Is(err, connector.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want an invalid error mentioning %q", err, tt.wantErr)
			}
		})
	}
	if _, err := h.Configure(t.Context(), "Bad Name", "csv", nil); !errors.Is(err, connector.ErrInvalid) {
		t.Errorf("instance name with spaces: err = %v, want invalid", err)
	}
	if _, err := h.Describe(t.Context(), "nope"); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown plugin: err = %v, want not found", err)
	}
}

func TestWrongChecksumRefused(t *testing.T) {
	root := t.TempDir()
	install(t, root, "tampered", "testplugin", func(m *Manifest) { m.SHA256 = strings.Repeat("ab", 32) })
	h, _ := newHost(t, root, Options{})
	_, err := h.Describe(t.Context(), "tampered")
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if !errors.Is(err, connector.ErrPermanent) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v, want a permanent, readable refusal", err)
	}
}

func TestStdoutBeforeHandshakeRefused(t *testing.T) {
	root := t.TempDir()
	install(t, root, "chatty", "testplugin", func(m *Manifest) { m.Args = []string{"--stdout-garbage"} })
	h, _ := newHost(t, root, Options{})
	_, err := h.Describe(t.Context(), "chatty")
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("err = %v, want ErrHandshake", err)
	}
	for _, want := range []string{"stdout before its handshake", "hello from a plugin that prints to stdout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestHangingPluginTimesOut(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, _ := newHost(t, root, Options{CallTimeout: 500 * time.Millisecond, HealthInterval: -1})
	in, err := h.Configure(t.Context(), "hung", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir(), Mode: "hang"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.GetOrder(t.Context(), connector.GetOrderRequest{ID: "T-1"})
	if !errors.Is(err, connector.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if !connector.IsRetryable(err) {
		t.Errorf("a timeout should be retryable")
	}
	// The caller's own cancellation is honoured as well.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := in.Health(ctx, connector.HealthRequest{}); !errors.Is(err, connector.ErrCanceled) && !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v, want canceled", err)
	}
	pid := in.PID()
	if pid == 0 {
		t.Fatal("no pid for the hanging plugin")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Errorf("hanging plugin pid %d still alive after Close", pid)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", func(m *Manifest) { m.MaxConcurrency = 1 })
	h, _ := newHost(t, root, Options{CallTimeout: time.Second, HealthInterval: -1})
	in, err := h.Configure(t.Context(), "one-at-a-time", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir(), Mode: "hang"}))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		close(started)
		_, err := in.Health(ctx, connector.HealthRequest{})
		done <- err
	}()
	<-started
	// Wait until the first call holds the only slot.
	for len(in.current().sem) == 0 {
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = in.Health(ctx, connector.HealthRequest{})
	if !errors.Is(err, connector.ErrTimeout) || !strings.Contains(err.Error(), "free slot") {
		t.Errorf("second call: err = %v, want a timeout waiting for a free slot", err)
	}
	if err := <-done; !errors.Is(err, connector.ErrTimeout) {
		t.Errorf("first call: err = %v, want a timeout", err)
	}
}

func TestKilledDuringCreateSalesOrder(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, logs := newHost(t, root, Options{HealthInterval: -1, CallTimeout: 20 * time.Second})
	data := t.TempDir()
	in, err := h.Configure(t.Context(), "erp", "testplugin", cfgJSON(t, testconn.Config{Dir: data, CreateDelayMS: 60_000}))
	if err != nil {
		t.Fatal(err)
	}
	req := connector.CreateSalesOrderRequest{IdempotencyKey: "process-42/task-7", CustomerID: "C1",
		Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "9.99"}}}
	firstPID := in.PID()
	errc := make(chan error, 1)
	go func() {
		_, err := in.CreateSalesOrder(context.Background(), req)
		errc <- err
	}()
	// Wait until the plugin has persisted the order and is inside the call.
	for {
		s, err := testconn.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Orders) > 0 {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("CreateSalesOrder returned before the kill: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := syscall.Kill(firstPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	if err == nil || !connector.IsRetryable(err) {
		t.Fatalf("call interrupted by the crash: err = %v, want a retryable error", err)
	}
	// The retry (as a Temporal activity would do) relaunches the plugin.
	var r connector.CreateSalesOrderResponse
	for attempt := 0; ; attempt++ {
		r, err = in.CreateSalesOrder(t.Context(), req)
		if err == nil || !connector.IsRetryable(err) || attempt == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond) // a retry policy's pause, not an assertion
	}
	if err != nil {
		t.Fatalf("retry after restart: %v", err)
	}
	if r.Created {
		t.Errorf("retry reported a new order; the key had already created one")
	}
	if pid := in.PID(); pid == firstPID || pid == 0 {
		t.Errorf("plugin pid %d after restart, want a new process (old %d)", pid, firstPID)
	}
	s, err := testconn.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Orders) != 1 || s.Orders[r.Order.ID].CustomerID != "C1" {
		t.Errorf("ERP holds %d orders %+v, want exactly the one", len(s.Orders), s.Orders)
	}
	if !strings.Contains(logs.String(), `"plugin":"testplugin"`) || !strings.Contains(logs.String(), "restarted") {
		t.Errorf("logs do not record the crash and restart with the plugin name:\n%s", logs.String())
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	install(t, root, "csv", "csv", nil)
	h, logs := newHost(t, root, Options{})
	var pids []int
	for i, plugin := range []string{"testplugin", "testplugin", "csv"} {
		cfg := cfgJSON(t, map[string]string{"dir": t.TempDir()})
		in, err := h.Configure(t.Context(), fmt.Sprintf("inst-%d", i), plugin, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Health(t.Context(), connector.HealthRequest{}); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, in.PID())
	}
	for _, pid := range pids {
		if pid == 0 || processGone(pid) {
			t.Fatalf("pids %v: want every instance running before Close", pids)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("plugin pid %d still exists after Close", pid)
		}
	}
	if _, err := h.Configure(t.Context(), "late", "csv", nil); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("Configure after Close: err = %v, want unavailable", err)
	}
	// Plugin-side log lines (go-plugin's server logs its address at debug level) arrive
	// in the host's slog output tagged with the plugin's name.
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"plugin address"`) && strings.Contains(line, `"plugin":"csv"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no plugin-side log line with plugin=csv in:\n%s", logs.String())
	}
}

func TestSupervisorRestartsCrashedPlugin(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, logs := newHost(t, root, Options{HealthInterval: 50 * time.Millisecond})
	in, err := h.Configure(t.Context(), "watched", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	first := in.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// No call is made: the supervision loop alone must notice and relaunch.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if pid := in.PID(); pid != 0 && pid != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted by the supervisor; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The relaunched process was configured again: a call that needs the config works.
	if _, err := in.GetOrder(t.Context(), connector.GetOrderRequest{ID: "T-404"}); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("GetOrder after restart: err = %v, want not found from a configured plugin", err)
	}
}

func TestUndeclaredCapabilityNotCalled(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, _ := newHost(t, root, Options{HealthInterval: -1})
	in, err := h.Configure(t.Context(), "partial", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.ListPayments(t.Context(), connector.ListPaymentsRequest{})
	if !errors.Is(err, connector.ErrUnsupported) || !strings.Contains(err.Error(), string(connector.CapListPayments)) {
		t.Errorf("ListPayments on a plugin without payments.list: err = %v, want unsupported", err)
	}
	// customers.list came after the first SDK release: a plugin that does not declare it is never asked.
	_, err = in.ListCustomers(t.Context(), connector.ListCustomersRequest{})
	if !errors.Is(err, connector.ErrUnsupported) || !strings.Contains(err.Error(), string(connector.CapListCustomers)) {
		t.Errorf("ListCustomers on a plugin without customers.list: err = %v, want unsupported", err)
	}
}

// TestConcurrentFirstConfigureLaunchesOneProcess configures one new instance from several
// goroutines at once, as a worker's connector tasks do when their connector was configured
// on another server after the worker started (each task's resolver installs it on first
// use): every caller gets the same instance, and one plugin process serves it. Before,
// each caller launched a process of its own and sent its call there, so two processes
// wrote the test ERP's file at once and one order was lost.
func TestConcurrentFirstConfigureLaunchesOneProcess(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, logs := newHost(t, root, Options{HealthInterval: -1})
	cfg := cfgJSON(t, testconn.Config{Dir: t.TempDir()})
	const callers = 6
	got := make([]*Instance, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			in, err := h.Configure(t.Context(), "erp", "testplugin", cfg)
			if err != nil {
				t.Error(err)
			}
			got[i] = in
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	in, err := h.Instance("erp")
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if g != in {
			t.Errorf("caller %d got an instance other than the installed one", i)
		}
	}
	pids := map[string]bool{} // the host and go-plugin both log "plugin started" with the pid
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"plugin started"`) && strings.Contains(line, `"instance":"erp"`) {
			if i := strings.Index(line, `"pid":`); i >= 0 {
				pids[strings.FieldsFunc(line[i+6:], func(r rune) bool { return r == ',' || r == '}' })[0]] = true
			}
		}
	}
	launched := len(pids)
	if launched != 1 {
		t.Errorf("%d plugin processes launched for instance erp, want 1", launched)
	}
}
