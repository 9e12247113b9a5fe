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
package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

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
}

// installed is one plugin folder and what is known about it.
type installed struct {
	dir      string
	manifest Manifest
	err      error // why the manifest is unusable, if it is

	describeMu sync.Mutex
	describe   *connector.DescribeResponse
	schema     *jsonschema.Schema
}

// Host owns the plugin processes. It is safe for concurrent use.
type Host struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	plugins   map[string]*installed
	instances map[string]*Instance
	closed    bool

	stopHealth context.CancelFunc
	healthDone chan struct{}
}

// New scans opts.Dir for plugins. A folder with a broken manifest does not fail New: it
// is listed by Plugins with its error and refused when used.
func New(opts Options) (*Host, error) {
	opts.setDefaults()
	entries, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("read plugins directory: %w", err)
	}
	h := &Host{opts: opts, log: opts.Logger, plugins: map[string]*installed{}, instances: map[string]*Instance{},
		healthDone: make(chan struct{})}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(opts.Dir, e.Name())
		m, err := LoadManifest(dir)
		if err != nil {
			h.log.Warn("plugin manifest rejected", "plugin", e.Name(), "error", err)
		}
		h.plugins[e.Name()] = &installed{dir: dir, manifest: m, err: err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopHealth = cancel
	go h.superviseLoop(ctx)
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
	d, _, err := h.describe(ctx, p)
	return d, err
}

func (h *Host) describe(ctx context.Context, p *installed) (connector.DescribeResponse, *jsonschema.Schema, error) {
	p.describeMu.Lock()
	defer p.describeMu.Unlock()
	if p.describe != nil {
		return *p.describe, p.schema, nil
	}
	proc := newProcess(h, p, "describe", nil)
	defer proc.stop()
	conn, err := proc.get(ctx)
	if err != nil {
		return connector.DescribeResponse{}, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	d, err := conn.Describe(cctx, connector.DescribeRequest{})
	if err != nil {
		return connector.DescribeResponse{}, nil, fmt.Errorf("plugin %q: describe: %w", p.manifest.Name, err)
	}
	schema, err := compileSchema(p.manifest.Name, d.ConfigSchema)
	if err != nil {
		return connector.DescribeResponse{}, nil, connector.Permanent("plugin %q: %w", p.manifest.Name, err)
	}
	p.describe, p.schema = &d, schema
	return d, schema, nil
}

// ValidateConfig merges cfg over the plugin's default configuration and validates the
// result against the plugin's JSON Schema. It returns the merged configuration; a
// schema violation is an Invalid error that names the offending field.
func (h *Host) ValidateConfig(ctx context.Context, pluginName string, cfg json.RawMessage) (json.RawMessage, error) {
	p, err := h.plugin(pluginName)
	if err != nil {
		return nil, err
	}
	_, schema, err := h.describe(ctx, p)
	if err != nil {
		return nil, err
	}
	merged, err := mergeConfig(p.manifest.DefaultConfig, cfg)
	if err != nil {
		return nil, err
	}
	if err := validateConfig(schema, merged); err != nil {
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
	h.mu.Lock()
	old := h.instances[instance]
	h.mu.Unlock()
	if old != nil && old.plugin == p && apply {
		if err := old.reconfigure(ctx, merged); err != nil {
			return nil, err
		}
		return old, nil
	}
	var in *Instance
	if apply {
		in = newInstance(h, p, instance, nil)
		if err := in.reconfigure(ctx, merged); err != nil {
			in.proc.stop()
			return nil, err
		}
	} else {
		in = newInstance(h, p, instance, merged)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		in.proc.stop()
		return nil, connector.Unavailable("plugin host is closed")
	}
	h.instances[instance] = in
	h.mu.Unlock()
	if old != nil {
		old.proc.stop()
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

// Remove stops and forgets an instance.
func (h *Host) Remove(name string) {
	h.mu.Lock()
	in := h.instances[name]
	delete(h.instances, name)
	h.mu.Unlock()
	if in != nil {
		in.proc.stop()
	}
}

// Close stops the supervision loop and kills every plugin process, waiting until each
// has exited. Calls made afterwards fail as Unavailable.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	procs := make([]*process, 0, len(h.instances))
	for _, in := range h.instances {
		procs = append(procs, in.proc)
	}
	h.mu.Unlock()
	h.stopHealth()
	<-h.healthDone
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.stop)
	}
	wg.Wait()
	return nil
}

// superviseLoop periodically restarts crashed instances and health-checks live ones.
func (h *Host) superviseLoop(ctx context.Context) {
	defer close(h.healthDone)
	if h.opts.HealthInterval < 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(h.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		procs := make([]*process, 0, len(h.instances))
		for _, in := range h.instances {
			procs = append(procs, in.proc)
		}
		h.mu.Unlock()
		for _, p := range procs {
			p.check(ctx)
		}
	}
}

func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(raw) == 0 {
		raw = json.RawMessage(`{"type":"object"}`)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse config schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	url := "rapport-plugin:///" + name + "/config.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("load config schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile config schema: %w", err)
	}
	return s, nil
}

func validateConfig(s *jsonschema.Schema, cfg json.RawMessage) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(cfg))
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
