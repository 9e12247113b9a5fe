package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// process supervises one plugin process: it launches it on first use, re-launches it
// with exponential backoff after it dies, and re-sends the instance's configuration
// after every launch. lock is a one-slot channel rather than a mutex so that waiting
// for it honours the caller's context.
type process struct {
	h        *Host
	plugin   *installed
	instance string
	log      *slog.Logger

	lock      chan struct{}
	config    json.RawMessage // merged configuration; nil for a describe-only process
	client    *plugin.Client
	conn      connector.Connector
	startedAt time.Time
	failures  int       // consecutive failed or crashed launches
	notBefore time.Time // earliest next launch (backoff)
	healthErr int       // consecutive failed health checks
	closed    bool
}

func newProcess(h *Host, p *installed, instance string, config json.RawMessage) *process {
	return &process{h: h, plugin: p, instance: instance, config: config, lock: make(chan struct{}, 1),
		log: h.log.With("plugin", p.manifest.Name, "instance", instance)}
}

func (p *process) acquire(ctx context.Context) error {
	select {
	case p.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, "wait for plugin %q", p.plugin.manifest.Name)
	}
}

func (p *process) release() { <-p.lock }

// ctxError turns a finished context into a typed timeout or canceled error.
func ctxError(ctx context.Context, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &connector.Error{Kind: connector.KindTimeout, Message: what + ": deadline exceeded"}
	}
	return &connector.Error{Kind: connector.KindCanceled, Message: what + ": canceled"}
}

// backoff is the wait before launch number failures+1: 100ms doubling up to MaxBackoff.
func (p *process) backoff() time.Duration {
	d := p.h.opts.MinBackoff
	for i := 1; i < p.failures && d < p.h.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.h.opts.MaxBackoff)
}

// get returns a connected Connector, launching or re-launching the process as needed.
func (p *process) get(ctx context.Context) (connector.Connector, error) {
	if err := p.acquire(ctx); err != nil {
		return nil, err
	}
	defer p.release()
	if p.closed {
		return nil, connector.Unavailable("plugin %q: host is closed", p.plugin.manifest.Name)
	}
	if p.client != nil && !p.client.Exited() {
		return p.conn, nil
	}
	if p.client != nil {
		p.noteCrash("plugin process exited; it will be restarted")
	}
	if wait := time.Until(p.notBefore); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctxError(ctx, "plugin %q: waiting %s before restart", p.plugin.manifest.Name, wait.Round(time.Millisecond))
		}
	}
	if err := p.launch(ctx); err != nil {
		p.failures++
		p.notBefore = time.Now().Add(p.backoff())
		p.log.Error("plugin launch failed", "error", err, "failures", p.failures)
		return nil, err
	}
	return p.conn, nil
}

// noteCrash reaps a dead or unhealthy process and schedules the next launch. A process
// that ran longer than ResetBackoffAfter counts as a fresh failure, so one crash a day
// does not accumulate into the maximum backoff. Callers hold the lock.
func (p *process) noteCrash(why string) {
	if time.Since(p.startedAt) > p.h.opts.ResetBackoffAfter {
		p.failures = 0
	}
	p.failures++
	p.notBefore = time.Now().Add(p.backoff())
	p.log.Warn(why, "uptime", time.Since(p.startedAt).Round(time.Millisecond), "restart_in", p.backoff())
	p.client.Kill()
	p.client, p.conn = nil, nil
	p.healthErr = 0
}

// configuration returns the merged configuration the process is launched with.
func (p *process) configuration() json.RawMessage {
	p.lock <- struct{}{}
	defer p.release()
	return append(json.RawMessage(nil), p.config...)
}

// setConfiguration keeps cfg for every later launch.
func (p *process) setConfiguration(ctx context.Context, cfg json.RawMessage) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer p.release()
	p.config = cfg
	return nil
}

// running reports whether the plugin process is up.
func (p *process) running() bool {
	p.lock <- struct{}{}
	defer p.release()
	return p.client != nil && !p.client.Exited()
}

// launch starts the binary, completes the handshake and configures the connector.
// The binary is opened and verified first (see openBinary) and the open file is what
// is executed. Callers hold the lock.
func (p *process) launch(ctx context.Context) error {
	m := p.plugin.manifest
	bin, err := openBinary(p.plugin.dir, m)
	if err != nil {
		return connector.Permanent("%w", err)
	}
	defer bin.Close()
	cmd := exec.Command(execPath(bin.f), m.Args...)
	cmd.Args[0] = bin.path
	cmd.Dir = p.plugin.dir
	cmd.Env = pluginEnv()
	setProcAttr(cmd)
	// Offer the protocol versions up to the manifest's: the operator pins what a binary
	// may speak, and go-plugin picks the highest both sides know.
	sets := connector.PluginSets()
	for v := range sets {
		if v > m.ProtocolVersion {
			delete(sets, v)
		}
	}
	hl := newHCLogger(p.log)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  connector.Handshake,
		VersionedPlugins: sets,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     p.h.opts.StartTimeout,
		Logger:           hl,
		SyncStdout:       &lineWriter{emit: func(l string) { p.log.Info(l, "stream", "stdout") }},
		SyncStderr:       &lineWriter{emit: func(l string) { p.log.Info(l, "stream", "stderr") }},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if strings.Contains(err.Error(), "Unrecognized remote plugin message") {
			return connector.Permanent("plugin %q refused: it wrote to stdout before its handshake "+
				"(plugins must log to stderr, stdout carries the handshake); first line was %s: %w",
				m.Name, firstLine(err.Error()), ErrHandshake)
		}
		return connector.Unavailable("plugin %q: start %s: %v", m.Name, bin.path, err)
	}
	if err := bin.unchanged(); err != nil {
		client.Kill()
		return connector.Permanent("plugin %q refused: %w", m.Name, err)
	}
	raw, err := rpc.Dispense(connector.PluginName)
	if err != nil {
		client.Kill()
		return connector.Permanent("plugin %q: dispense connector: %v", m.Name, err)
	}
	conn, ok := raw.(connector.Connector)
	if !ok {
		client.Kill()
		return connector.Permanent("plugin %q: dispensed %T, not a connector", m.Name, raw)
	}
	if p.config != nil {
		cctx, cancel := context.WithTimeout(ctx, p.h.opts.CallTimeout)
		_, err := conn.Configure(cctx, connector.ConfigureRequest{Config: p.config})
		cancel()
		if err != nil {
			client.Kill()
			return fmt.Errorf("plugin %q instance %q: configure after launch: %w", m.Name, p.instance, err)
		}
	}
	restart := !p.startedAt.IsZero()
	p.client, p.conn, p.startedAt = client, conn, time.Now()
	p.log.Info("plugin started", "pid", p.pid(), "protocol", client.NegotiatedVersion(), "sha256", m.SHA256)
	if o := p.h.opts.Observer; o != nil {
		o.PluginLaunched(m.Name, restart)
	}
	return nil
}

// firstLine extracts the offending stdout line from go-plugin's error text.
func firstLine(msg string) string {
	msg = strings.TrimPrefix(msg, "Unrecognized remote plugin message: ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("%q", msg)
}

// pluginEnv is the environment a plugin sees: only what a program needs to run, so the
// host's secrets (database URIs, keys) never leak into third-party binaries.
func pluginEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// pid returns the process ID of the running plugin, or 0. Callers hold the lock.
func (p *process) pid() int {
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// check runs one supervision round: it restarts a dead process and health-checks a
// live one, killing it after three consecutive failed checks.
func (p *process) check(ctx context.Context) {
	if err := p.acquire(ctx); err != nil {
		return
	}
	if p.closed || p.client == nil {
		p.release()
		return
	}
	if p.client.Exited() {
		p.release()
		if _, err := p.get(ctx); err != nil {
			p.log.Warn("restart after crash failed", "error", err)
		}
		return
	}
	conn := p.conn
	p.release()

	cctx, cancel := context.WithTimeout(ctx, p.h.opts.CallTimeout)
	r, err := conn.Health(cctx, connector.HealthRequest{})
	cancel()
	if err := p.acquire(ctx); err != nil {
		return
	}
	defer p.release()
	if p.conn != conn {
		return // replaced meanwhile
	}
	switch {
	case err != nil:
		p.healthErr++
		p.log.Warn("plugin health check failed", "error", err, "consecutive", p.healthErr)
		if p.healthErr >= 3 {
			p.noteCrash("plugin failed three health checks; restarting it")
		}
	case !r.OK:
		p.healthErr = 0
		p.log.Warn("plugin reports its ERP unhealthy", "message", r.Message)
	default:
		p.healthErr = 0
	}
}

// stop kills the process for good. Safe to call more than once.
func (p *process) stop() {
	p.lock <- struct{}{}
	defer p.release()
	p.closed = true
	if p.client != nil {
		p.client.Kill()
		p.log.Info("plugin stopped")
		p.client, p.conn = nil, nil
	}
}
