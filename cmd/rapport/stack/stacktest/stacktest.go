// Package stacktest starts a whole Rapport — embedded FerretDB and Temporal, worker and HTTP server — for
// integration tests: once per test package from TestMain, on random loopback ports in a temporary
// directory, with a logged-in administrator.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/cmd/rapport/stack"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// AdminEmail and AdminPassword are the bootstrap administrator's credentials in every test stack.
const (
	AdminEmail    = "admin@example.test"
	AdminPassword = "correct horse battery staple"
)

// Env is a running test stack.
type Env struct {
	// Stack is the running process; tests may use its stores directly.
	Stack *stack.Stack
	// DataDir holds the embedded servers' files.
	DataDir string
	// BaseURL is the HTTP server's root, e.g. http://127.0.0.1:41234.
	BaseURL string
	// AdminToken is a bearer token of the bootstrap administrator.
	AdminToken string
	// DB is Rapport's MongoDB database; Temporal a client on its namespace.
	DB       *mongo.Database
	Temporal client.Client
	// HTTP is the client tests should use.
	HTTP *http.Client
}

// Config returns the stack configuration tests use for dataDir: everything embedded, on free ports.
func Config(dataDir string) stack.Config {
	level := slog.LevelWarn
	if os.Getenv("RAPPORT_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return stack.Config{
		Embedded: true, Serve: true, Work: true,
		DataDir:           dataDir,
		HTTPAddr:          "127.0.0.1:0",
		EmbeddedMongoAddr: "127.0.0.1:0", EmbeddedTemporalAddr: "127.0.0.1:0",
		EmbeddedLogLevel: slog.LevelError,
		AdminEmail:       AdminEmail, AdminPassword: AdminPassword,
		// Tests and benchmarks send far more requests per user than people do; the limiter has its own
		// test on a server of its own.
		RateLimit: api.RateLimit{PerSecond: 1e6, Burst: 1_000_000},
		// Packages deploy processes of their own (some under the templates' keys); MainWithTemplates
		// installs the shipped ones.
		NoProcessTemplates: true,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// Start brings a stack up in dataDir and logs the administrator in.
func Start(ctx context.Context, dataDir string) (*Env, error) { return StartWith(ctx, Config(dataDir)) }

// StartWith brings up a stack with cfg and logs the administrator in.
func StartWith(ctx context.Context, cfg stack.Config) (*Env, error) {
	dataDir := cfg.DataDir
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stacktest: start: %w", err)
	}
	e := &Env{Stack: s, DataDir: dataDir, BaseURL: s.BaseURL, DB: s.DB, Temporal: s.Temporal, HTTP: &http.Client{Timeout: 60 * time.Second}}
	token, err := e.Login(ctx, AdminEmail, AdminPassword)
	if err != nil {
		s.Stop(context.Background())
		return nil, err
	}
	e.AdminToken = token
	return e, nil
}

// Login returns a bearer token for the credentials.
func (e *Env) Login(ctx context.Context, email, password string) (string, error) {
	status, body, err := e.Do(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("stacktest: login as %s: status %d: %s", email, status, body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("stacktest: login response %s: %v", body, err)
	}
	return out.Token, nil
}

// Do sends a request with an optional bearer token and a JSON body (a []byte or string body is sent as
// is) and returns the status and the response body.
func (e *Env) Do(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	resp, err := e.send(ctx, method, path, token, body, nil)
	if err != nil {
		return 0, nil, err
	}
	return resp.Status, resp.Raw, nil
}

// Response is an HTTP response as tests look at it; Body is the JSON object it holds, if any.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// Call is Do for tests that also set headers (name, value pairs) and read response headers; a transport
// error fails the test.
func (e *Env) Call(t testing.TB, method, path, token string, body any, headers ...string) Response {
	t.Helper()
	resp, err := e.send(context.Background(), method, path, token, body, headers)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (e *Env) send(ctx context.Context, method, path, token string, body any, headers []string) (Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return Response{}, fmt.Errorf("stacktest: encode body: %w", err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.BaseURL+path, r)
	if err != nil {
		return Response{}, fmt.Errorf("stacktest: build request: %w", err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("stacktest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("stacktest: read response: %w", err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

// Stop shuts the stack down.
func (e *Env) Stop() { e.Stack.Stop(context.Background()) }

// Main is a TestMain body: it starts a stack in a temporary directory, stores it in *env, runs the tests
// and stops it. A stack that fails to start fails the whole package.
func Main(m *testing.M, env **Env) {
	os.Exit(run(m, env, nil, nil))
}

// MainWithTemplates is Main for a stack as a fresh installation has it: the shipped process templates
// are installed and published on start. prepare, when set, prepares the data directory first (e.g.
// InstallPlugin); configure, when set, changes the configuration (e.g. a mail server).
func MainWithTemplates(m *testing.M, env **Env, prepare func(dataDir string) error, configure func(*stack.Config)) {
	os.Exit(run(m, env, prepare, func(c *stack.Config) {
		c.NoProcessTemplates = false
		if configure != nil {
			configure(c)
		}
	}))
}

// MainWith is Main with a step that prepares the data directory before the stack starts, e.g. installing
// plugins with InstallPlugin.
func MainWith(m *testing.M, env **Env, prepare func(dataDir string) error) {
	os.Exit(run(m, env, prepare, nil))
}

// InstallPlugin builds the Go main package pkg into dataDir/plugins/name with a plugin.json manifest
// carrying its checksum, as an operator would install a connector.
func InstallPlugin(dataDir, name, pkg string) error {
	dir := filepath.Join(dataDir, "plugins", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("stacktest: %w", err)
	}
	bin := filepath.Join(dir, "connector")
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("stacktest: build %s: %v: %s", pkg, err, out)
	}
	sum, err := host.FileSHA256(bin)
	if err != nil {
		return fmt.Errorf("stacktest: %w", err)
	}
	manifest, err := json.Marshal(host.Manifest{Name: name, Binary: "connector", SHA256: sum, ProtocolVersion: connector.ProtocolVersion})
	if err != nil {
		return fmt.Errorf("stacktest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, host.ManifestFile), manifest, 0o644); err != nil {
		return fmt.Errorf("stacktest: %w", err)
	}
	return nil
}

func run(m *testing.M, env **Env, prepare func(string) error, configure func(*stack.Config)) int {
	dir, err := os.MkdirTemp("", "rapport-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stacktest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if prepare != nil {
		if err := prepare(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cfg := Config(dir)
	if configure != nil {
		configure(&cfg)
	}
	e, err := StartWith(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Stop()
	*env = e
	return m.Run()
}
