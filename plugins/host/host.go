// Package host launches, verifies and supervises Rapport's ERP connector plugins.
//
// Plugins live in a directory, one folder per plugin, each with a plugin.json manifest
// naming the binary and its SHA-256. The host refuses binaries whose checksum differs,
// launches a plugin on first use over go-plugin with AutoMTLS, restarts it with backoff
// after a crash, health-checks it, bounds every call with a timeout and a per-process
// concurrency limit, forwards its logs to Rapport's slog logger, and kills every plugin
// process on Close.
//
// One plugin can be configured several times as named instances (say "erp-test" and
// "erp-prod"); each instance runs in its own process, so one ERP's trouble never
// blocks another. Storing instances is the caller's job (see Store); secrets inside
// their configuration are sealed with Sealer and redacted with Redact.
//
// The plugins directory is read again on Rescan and whenever it changes (it is polled
// every Options.ScanInterval): new plugins become usable, removed ones stop, and a
// plugin whose manifest changed (a new binary and checksum) is upgraded without a
// restart: each instance starts the new binary, takes new calls there, and the old
// process is stopped once the calls it is serving have finished.
package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/engine/keylock"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Options configure a Host. Zero fields take the documented defaults.
type Options struct {
	// Dir is the plugins directory (the --plugins-dir flag).
	Dir string
	// Logger receives host and plugin logs; plugin lines carry plugin=<name>.
	Logger *slog.Logger
	// CallTimeout bounds every connector call (default 30s); a shorter context deadline wins.
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's launch and handshake (default 20s).
	StartTimeout time.Duration
	// MaxConcurrency caps concurrent calls per plugin process unless the manifest sets
	// its own (default 8).
	MaxConcurrency int
	// HealthInterval is the period of health checks and crash restarts (default 30s;
	// negative disables the background checks, crashes are then noticed on the next call).
	HealthInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart (defaults 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// ResetBackoffAfter is the uptime after which a crash no longer counts as a repeated
	// failure (default 1 minute).
	ResetBackoffAfter time.Duration
	// ScanInterval is how often the plugins directory is checked for changes, which are
	// then applied as by Rescan (default 2s; negative disables the watch).
	ScanInterval time.Duration
	// Observer is told of every call and launch, for metrics and traces; nil observes nothing.
	Observer Observer
}

// Observer watches the host from outside (Rapport's telemetry implements it).
type Observer interface {
	// PluginCall is called as a call through an instance begins; the call runs with the returned
	// context (carrying e.g. a span) and done is called with its error and that error's kind name.
	PluginCall(ctx context.Context, plugin, instance, method string) (_ context.Context, done func(err error, kind string))
	// PluginLaunched is called after a plugin process started; restart is false for its first start.
	PluginLaunched(plugin string, restart bool)
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 20 * time.Second
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = 8
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.ResetBackoffAfter <= 0 {
		o.ResetBackoffAfter = time.Minute
	}
	if o.ScanInterval == 0 {
		o.ScanInterval = 2 * time.Second
	}
}

// installed is one plugin folder as one scan found it. A changed manifest makes a new
// installed value, so everything cached here (the description, the schemas) belongs to
// exactly one binary.
type installed struct {
	dir      string
	manifest Manifest
	err      error // why the manifest is unusable, if it is

	describeMu sync.Mutex
	described  *description
}

// description is a plugin's self-description with its schemas compiled.
type description struct {
	resp   connector.DescribeResponse
	config *jsonschema.Schema
	ops    map[string]*operation
}

// operation is a described operation with its schemas compiled (nil: anything goes).
type operation struct {
	connector.Operation
	input, output *jsonschema.Schema
}

// Host owns the plugin processes. It is safe for concurrent use.
type Host struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	plugins   map[string]*installed
	instances map[string]*Instance
	closed    bool

	// configuring holds a lock per instance name for configure: callers that configure
	// the same instance at once (a worker's connector tasks installing it on first use)
	// take turns, so one process serves it rather than one each.
	configuring keylock.Locks

	scanMu    sync.Mutex // one scan at a time
	lastStamp string     // the directory's fingerprint at the last scan

	closing   chan struct{}  // closed by Close; draining processes stop at once
	drains    sync.WaitGroup // processes waiting for their calls before they stop
	stopLoops context.CancelFunc
	loopsDone sync.WaitGroup
}

// New scans opts.Dir for plugins. A folder with a broken manifest does not fail New: it
// is listed by Plugins with its error and refused when used.
func New(opts Options) (*Host, error) {
	opts.setDefaults()
	h := &Host{opts: opts, log: opts.Logger, plugins: map[string]*installed{}, instances: map[string]*Instance{},
		closing: make(chan struct{})}
	found, stamp, err := h.scan()
	if err != nil {
		return nil, err
	}
	h.plugins, h.lastStamp = found, stamp
	ctx, cancel := context.WithCancel(context.Background())
	h.stopLoops = cancel
	h.loopsDone.Go(func() { h.superviseLoop(ctx) })
	h.loopsDone.Go(func() { h.watchLoop(ctx) })
	return h, nil
}

// PluginInfo is what Plugins reports about one installed plugin.
type PluginInfo struct {
	Name     string
	Dir      string
	Manifest Manifest
	Err      error // non-nil when the manifest is unusable
}

// Plugins lists the installed plugins sorted by name.
func (h *Host) Plugins() []PluginInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]PluginInfo, 0, len(h.plugins))
	for name, p := range h.plugins {
		out = append(out, PluginInfo{Name: name, Dir: p.dir, Manifest: p.manifest, Err: p.err})
	}
	slices.SortFunc(out, func(a, b PluginInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (h *Host) plugin(name string) (*installed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, connector.Unavailable("plugin host is closed")
	}
	p, ok := h.plugins[name]
	if !ok {
		return nil, connector.NotFound("plugin %q is not installed in %s", name, h.opts.Dir)
	}
	if p.err != nil {
		return nil, connector.Permanent("plugin %q: %w", name, p.err)
	}
	return p, nil
}

// Describe returns a plugin's self-description. The first call launches the plugin
// once, unconfigured, asks it, and stops it again; the answer is cached.
func (h *Host) Describe(ctx context.Context, pluginName string) (connector.DescribeResponse, error) {
	p, err := h.plugin(pluginName)
	if err != nil {
		return connector.DescribeResponse{}, err
	}
	d, err := h.describe(ctx, p)
	if err != nil {
		return connector.DescribeResponse{}, err
	}
	return d.resp, nil
}

func (h *Host) describe(ctx context.Context, p *installed) (*description, error) {
	p.describeMu.Lock()
	defer p.describeMu.Unlock()
	if p.described != nil {
		return p.described, nil
	}
	proc := newProcess(h, p, "describe", nil)
	defer proc.stop()
	conn, err := proc.get(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	d, err := conn.Describe(cctx, connector.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("plugin %q: describe: %w", p.manifest.Name, err)
	}
	desc, err := compileDescription(p.manifest.Name, d)
	if err != nil {
		return nil, connector.Permanent("plugin %q: %w", p.manifest.Name, err)
	}
	p.described = desc
	return desc, nil
}

// compileDescription compiles the configuration schema and every operation's schemas,
// refusing operation names that are malformed or listed twice.
func compileDescription(plugin string, d connector.DescribeResponse) (*description, error) {
	cfg, err := compileSchema(plugin, "config", d.ConfigSchema, `{"type":"object"}`)
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	desc := &description{resp: d, config: cfg, ops: make(map[string]*operation, len(d.Operations))}
	for _, o := range d.Operations {
		if !connector.ValidOperationName(o.Name) {
			return nil, fmt.Errorf("operation name %q: want lower-case words joined by dots, e.g. prices.quote", o.Name)
		}
		if desc.ops[o.Name] != nil {
			return nil, fmt.Errorf("operation %q is listed twice", o.Name)
		}
		op := &operation{Operation: o}
		if op.input, err = compileSchema(plugin, o.Name+".input", o.Input, `{"type":"object"}`); err != nil {
			return nil, fmt.Errorf("operation %q input schema: %w", o.Name, err)
		}
		if len(o.Output) > 0 {
			if op.output, err = compileSchema(plugin, o.Name+".output", o.Output, ""); err != nil {
				return nil, fmt.Errorf("operation %q output schema: %w", o.Name, err)
			}
		}
		desc.ops[o.Name] = op
	}
	return desc, nil
}

// ValidateConfig merges cfg over the plugin's default configuration and validates the
// result against the plugin's JSON Schema. It returns the merged configuration; a
// schema violation is an Invalid error that names the offending field.
func (h *Host) ValidateConfig(ctx context.Context, pluginName string, cfg json.RawMessage) (json.RawMessage, error) {
	p, err := h.plugin(pluginName)
	if err != nil {
		return nil, err
	}
	d, err := h.describe(ctx, p)
	if err != nil {
		return nil, err
	}
	merged, err := mergeConfig(p.manifest.DefaultConfig, cfg)
	if err != nil {
		return nil, err
	}
	if err := validateJSON(d.config, merged); err != nil {
		return nil, connector.Invalid("plugin %q configuration: %v", pluginName, err)
	}
	return merged, nil
}

// Configure creates or replaces the named instance of a plugin with a configuration
// (secrets in clear; open them with Sealer first). The configuration is validated
// against the plugin's schema before anything changes, then sent to the instance's
// process (launching it if needed), so a configuration the plugin rejects, say an
// unreachable ERP, fails here and leaves the previous configuration in place.
func (h *Host) Configure(ctx context.Context, instance, pluginName string, cfg json.RawMessage) (*Instance, error) {
	return h.configure(ctx, instance, pluginName, cfg, true)
}

// configure validates cfg and installs the instance. With apply it also sends the
// configuration to the plugin process (launching it); without, the process starts on
// the instance's first call, which is what Restore wants at start-up.
func (h *Host) configure(ctx context.Context, instance, pluginName string, cfg json.RawMessage, apply bool) (*Instance, error) {
	// The name outlives the call as a map key and in log attributes; callers may pass a string that
	// aliases a reused buffer (Fiber's path parameters do), so the host keeps its own copy.
	instance = strings.Clone(instance)
	if !nameRE.MatchString(instance) {
		return nil, connector.Invalid("instance name %q must be lower-case letters, digits, '-' or '_'", instance)
	}
	merged, err := h.ValidateConfig(ctx, pluginName, cfg)
	if err != nil {
		return nil, err
	}
	p, err := h.plugin(pluginName)
	if err != nil {
		return nil, err
	}
	// From reading the installed instance to installing its replacement, no other caller
	// may configure this name: each would launch a process of its own, send its call
	// there and leave it running after the last one installed replaced it.
	unlock := h.configuring.Lock(instance)
	defer unlock()
	h.mu.Lock()
	old := h.instances[instance]
	h.mu.Unlock()
	if old != nil && old.current().plugin == p && apply {
		if err := old.reconfigure(ctx, merged); err != nil {
			return nil, err
		}
		return old, nil
	}
	var in *Instance
	if apply {
		in = newInstance(h, p, instance, nil)
		if err := in.reconfigure(ctx, merged); err != nil {
			in.current().proc.stop()
			return nil, err
		}
	} else {
		in = newInstance(h, p, instance, merged)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		in.current().proc.stop()
		return nil, connector.Unavailable("plugin host is closed")
	}
	h.instances[instance] = in
	h.mu.Unlock()
	if old != nil {
		h.retire(old.current())
	}
	return in, nil
}

// Instance returns a configured instance by name.
func (h *Host) Instance(name string) (*Instance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in, ok := h.instances[name]
	if !ok {
		return nil, connector.NotFound("connector instance %q is not configured", name)
	}
	return in, nil
}

// Instances lists the configured instance names, sorted.
func (h *Host) Instances() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.instances))
	for n := range h.instances {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Remove forgets an instance and stops its process once the calls it is serving have
// finished.
func (h *Host) Remove(name string) {
	h.mu.Lock()
	in := h.instances[name]
	delete(h.instances, name)
	h.mu.Unlock()
	if in != nil {
		h.retire(in.current())
	}
}

// retire stops a generation's process after its calls in flight have finished (they
// are bounded by the call timeout), or at once when the host closes.
func (h *Host) retire(g *generation) {
	h.drains.Go(func() {
		drained := make(chan struct{})
		go func() { g.calls.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-h.closing:
		}
		g.proc.stop()
	})
}

// Close stops the supervision and watch loops and kills every plugin process, waiting
// until each has exited. Calls made afterwards fail as Unavailable.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	procs := make([]*process, 0, len(h.instances))
	for _, in := range h.instances {
		procs = append(procs, in.current().proc)
	}
	h.mu.Unlock()
	close(h.closing)
	h.stopLoops()
	h.loopsDone.Wait()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
	h.drains.Wait()
	return nil
}

// superviseLoop periodically restarts crashed instances and health-checks live ones.
func (h *Host) superviseLoop(ctx context.Context) {
	every(ctx, h.opts.HealthInterval, func() {
		h.mu.Lock()
		procs := make([]*process, 0, len(h.instances))
		for _, in := range h.instances {
			procs = append(procs, in.current().proc)
		}
		h.mu.Unlock()
		for _, p := range procs {
			p.check(ctx)
		}
	})
}

// every calls fn each interval until ctx ends; a negative interval never calls it.
func every(ctx context.Context, interval time.Duration, fn func()) {
	if interval < 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// compileSchema compiles one of a plugin's JSON Schemas (what names it in errors); an
// empty schema becomes fallback, or nil when fallback is empty too.
func compileSchema(plugin, what string, raw json.RawMessage, fallback string) (*jsonschema.Schema, error) {
	if len(raw) == 0 {
		if fallback == "" {
			return nil, nil
		}
		raw = json.RawMessage(fallback)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	c := jsonschema.NewCompiler()
	url := "rapport-plugin:///" + plugin + "/" + what + ".schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return s, nil
}

// validateJSON checks a JSON document against a compiled schema (nil accepts anything)
// and renders a violation on one line.
func validateJSON(s *jsonschema.Schema, doc json.RawMessage) error {
	if s == nil {
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	if err := s.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(flattenValidation(ve))
		}
		return err
	}
	return nil
}
