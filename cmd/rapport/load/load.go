// Package load drives Rapport's HTTP API at fixed request rates and reports what callers see: latency
// percentiles, errors and the server's memory over time, for each rate, and the rate at which the 99th
// percentile passes 250 ms. It is open-loop (requests are sent on a schedule, whatever the answers
// take, and latency counts from the scheduled moment, so a slow server cannot hide its queueing), bounded
// (a fixed number of requests in flight; what finds no slot counts as an error) and loopback only.
//
// By default it starts a fresh `rapport dev` of its own in a temporary directory, so every run measures
// the same thing: the embedded stack with a record-triggered follow-up process on every new lead.
package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Threshold is the 99th-percentile latency whose crossing the report names.
const Threshold = 250 * time.Millisecond

// Config says what to drive and how hard.
type Config struct {
	// URL is the API to drive (loopback only); empty starts Binary's `rapport dev` in a temporary
	// directory and drives that.
	URL string
	// Binary is the rapport executable started when URL is empty.
	Binary string
	// Email and Password log in; when Rapport is started here they create its administrator.
	Email, Password string
	// PID is the server process whose resident memory is sampled (set automatically when started here).
	PID int
	// Rates are the request rates (per second) of the steps, run in order; Duration is each step's.
	Rates    []float64
	Duration time.Duration
	// Warmup runs the first rate this long before measuring (default 15 s; negative: none).
	Warmup time.Duration
	// Seed is how many leads exist before the first step (default 200).
	Seed int
	// MaxInFlight bounds concurrent requests (default 256).
	MaxInFlight int
	// SampleEvery is the memory sampling period (default 10 s).
	SampleEvery time.Duration
	// Log receives progress lines; nil discards.
	Log io.Writer
}

func (c *Config) defaults() error {
	if len(c.Rates) == 0 {
		return errors.New("load: no rates")
	}
	for _, r := range c.Rates {
		if r <= 0 || r > 5000 {
			return fmt.Errorf("load: rate %g is not between 0 and 5000 requests per second", r)
		}
	}
	if c.Duration <= 0 || c.Duration > time.Hour {
		return fmt.Errorf("load: duration %s is not between 0 and an hour", c.Duration)
	}
	if c.Warmup == 0 {
		c.Warmup = 15 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 200
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 256
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Email == "" {
		c.Email = "load@example.test"
	}
	return nil
}

// Run drives the API at each rate in turn and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		srv, err := startDev(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		defer srv.stop(cfg.Log)
	}
	if err := Loopback(cfg.URL); err != nil {
		return nil, err
	}
	c, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.http.CloseIdleConnections()
	fmt.Fprintf(cfg.Log, "load: seeding %d leads and their follow-up instances\n", cfg.Seed)
	if err := c.setUp(ctx, cfg.Seed); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC(), Duration: cfg.Duration}
	if cfg.Warmup > 0 {
		fmt.Fprintf(cfg.Log, "load: warming up at %g/s for %s\n", cfg.Rates[0], cfg.Warmup)
		c.step(ctx, cfg.Rates[0], cfg.Warmup, cfg)
	}
	for _, rate := range cfg.Rates {
		fmt.Fprintf(cfg.Log, "load: %g requests/s for %s\n", rate, cfg.Duration)
		st := c.step(ctx, rate, cfg.Duration, cfg)
		rep.Steps = append(rep.Steps, st)
		fmt.Fprintf(cfg.Log, "load: %g/s: p50 %s p95 %s p99 %s, %d errors of %d\n", rate, ms(st.All.P(50)), ms(st.All.P(95)), ms(st.All.P(99)), st.All.Errors, st.All.N())
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

// Loopback refuses a target that is not on this machine: the generator must never load someone else's
// server.
func Loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("load: %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load: %s is not a loopback address; the load generator drives only this machine", host)
	}
	return nil
}

// devServer is a `rapport dev` started for the run.
type devServer struct {
	cmd  *exec.Cmd
	dir  string
	done chan error
}

// startDev starts `rapport dev` on free loopback ports in a temporary directory and waits until it is
// ready; it sets cfg.URL, cfg.PID and the administrator's credentials.
func startDev(ctx context.Context, cfg *Config) (*devServer, error) {
	if cfg.Binary == "" {
		return nil, errors.New("load: no rapport binary to start")
	}
	dir, err := os.MkdirTemp("", "rapport-load-")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if cfg.Password == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		cfg.Password = hex.EncodeToString(b)
	}
	logFile, err := os.Create(filepath.Join(dir, "rapport.log"))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// One administrator token sends every request: its rate limit is lifted, as if the load came from
	// many people.
	cmd := exec.Command(cfg.Binary, "--log-level", "warn", "--log-format", "text", "dev",
		"--data-dir", filepath.Join(dir, "data"), "--http-addr", "127.0.0.1:0", "--mongo-addr", "127.0.0.1:0",
		"--temporal-addr", "127.0.0.1:0", "--metrics-addr", "", "--admin-email", cfg.Email, "--admin-password", cfg.Password,
		"--rate-limit", "1000000", "--rate-burst", "1000000")
	cmd.Env = cleanEnv()
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load: start %s dev: %w", cfg.Binary, err)
	}
	s := &devServer{cmd: cmd, dir: dir, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Admin UI:"); ok {
				select {
				case found <- strings.TrimSuffix(strings.TrimSpace(rest), "/"):
				default:
				}
			}
		}
	}()
	go func() { s.done <- cmd.Wait(); logFile.Close() }()
	select {
	case cfg.URL = <-found:
	case err := <-s.done:
		return nil, fmt.Errorf("load: rapport dev exited before it was ready (%v); see %s", err, logFile.Name())
	case <-time.After(3 * time.Minute):
		s.stop(cfg.Log)
		return nil, errors.New("load: rapport dev did not start within 3 minutes")
	case <-ctx.Done():
		s.stop(cfg.Log)
		return nil, ctx.Err()
	}
	cfg.PID = cmd.Process.Pid
	fmt.Fprintf(cfg.Log, "load: started rapport dev (pid %d) at %s, data in %s\n", cfg.PID, cfg.URL, dir)
	return s, nil
}

// cleanEnv is the environment without RAPPORT_ variables, so the caller's settings cannot change what
// is measured.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RAPPORT_") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop asks the server to stop (SIGTERM), kills it after 30 s and removes its directory.
func (s *devServer) stop(log io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	// The server's log outlives its directory, for whoever reads the report.
	kept := filepath.Join(os.TempDir(), "rapport-load-last.log")
	if raw, err := os.ReadFile(filepath.Join(s.dir, "rapport.log")); err == nil && os.WriteFile(kept, raw, 0o600) == nil {
		fmt.Fprintf(log, "load: the server's log is in %s\n", kept)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		fmt.Fprintf(log, "load: remove %s: %v\n", s.dir, err)
	}
}

// rssBytes reads the resident set size of pid from /proc; 0 when unknown.
func rssBytes(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// httpClient has enough connections for MaxInFlight and gives up on a request after 30 s.
func httpClient(maxInFlight int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: maxInFlight, MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: time.Minute,
	}}
}
