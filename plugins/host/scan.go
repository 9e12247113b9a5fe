package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// RescanReport says what a rescan of the plugins directory changed.
type RescanReport struct {
	// Added, Upgraded and Removed name plugins whose folder appeared, whose manifest
	// changed (typically a new binary and checksum) or which disappeared.
	Added    []string `json:"added"`
	Upgraded []string `json:"upgraded"`
	Removed  []string `json:"removed"`
	// Instances lists what happened to configured instances: moved to a new binary,
	// stopped with their removed plugin, or kept on the old binary because the new one
	// failed (Error says why; the next rescan tries again).
	Instances []InstanceChange `json:"instances"`
}

// InstanceChange is what a rescan did to one configured instance.
type InstanceChange struct {
	Instance string `json:"instance"`
	Plugin   string `json:"plugin"`
	// Action is "upgraded", "stopped" or "kept".
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Changed reports whether the rescan changed anything.
func (r RescanReport) Changed() bool {
	return len(r.Added)+len(r.Upgraded)+len(r.Removed)+len(r.Instances) > 0
}

// scan reads every plugin folder's manifest and fingerprints the directory. Entries that
// are not directories, symbolic links among them, and folders whose name starts with a
// dot (an installer's staging area) are skipped.
func (h *Host) scan() (map[string]*installed, string, error) {
	entries, err := os.ReadDir(h.opts.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("read plugins directory: %w", err)
	}
	found := map[string]*installed{}
	var stamp strings.Builder
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(h.opts.Dir, e.Name())
		m, err := LoadManifest(dir)
		found[e.Name()] = &installed{dir: dir, manifest: m, err: err}
		stamp.WriteString(e.Name() + "=" + fileStamp(filepath.Join(dir, ManifestFile)) + ";")
	}
	return found, stamp.String(), nil
}

// fileStamp is a file's size and modification time, enough to notice a rewrite.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "-"
	}
	return fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano())
}

// fingerprint is scan's stamp without reading any manifest.
func (h *Host) fingerprint() (string, error) {
	entries, err := os.ReadDir(h.opts.Dir)
	if err != nil {
		return "", fmt.Errorf("read plugins directory: %w", err)
	}
	var stamp strings.Builder
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			stamp.WriteString(e.Name() + "=" + fileStamp(filepath.Join(h.opts.Dir, e.Name(), ManifestFile)) + ";")
		}
	}
	return stamp.String(), nil
}

// sameInstall reports whether two scans of a folder found the same thing.
func sameInstall(a, b *installed) bool {
	return reflect.DeepEqual(a.manifest, b.manifest) && errText(a.err) == errText(b.err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Rescan reads the plugins directory again and applies what changed without a restart:
// new plugins become usable, removed plugins' instances stop, and instances of a plugin
// whose manifest changed move to the new binary (see Instance.upgrade) while their old
// process finishes the calls it is serving. A folder whose new manifest is broken keeps
// its instances on the binary they run and lists the error.
func (h *Host) Rescan(ctx context.Context) (RescanReport, error) {
	h.scanMu.Lock()
	defer h.scanMu.Unlock()
	found, stamp, err := h.scan()
	if err != nil {
		return RescanReport{}, err
	}
	var rep RescanReport
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return rep, errors.New("plugin host is closed")
	}
	for name, f := range found {
		old := h.plugins[name]
		switch {
		case old == nil:
			rep.Added = append(rep.Added, name)
		case sameInstall(old, f):
			continue // keep the old value and its cached description
		default:
			rep.Upgraded = append(rep.Upgraded, name)
		}
		if f.err != nil {
			h.log.Warn("plugin manifest rejected", "plugin", name, "error", f.err)
		}
		h.plugins[name] = f
	}
	for name := range h.plugins {
		if found[name] == nil {
			rep.Removed = append(rep.Removed, name)
			delete(h.plugins, name)
		}
	}
	h.lastStamp = stamp
	instances := make([]*Instance, 0, len(h.instances))
	for _, in := range h.instances {
		instances = append(instances, in)
	}
	h.mu.Unlock()

	slices.SortFunc(instances, func(a, b *Instance) int { return strings.Compare(a.name, b.name) })
	for _, in := range instances {
		if ch, ok := h.reconcile(ctx, in); ok {
			rep.Instances = append(rep.Instances, ch)
		}
	}
	slices.Sort(rep.Added)
	slices.Sort(rep.Upgraded)
	slices.Sort(rep.Removed)
	if rep.Changed() {
		h.log.Info("plugins directory rescanned", "added", rep.Added, "upgraded", rep.Upgraded, "removed", rep.Removed,
			"instances", len(rep.Instances))
	}
	return rep, nil
}

// reconcile moves one instance to what the last scan installed for its plugin.
func (h *Host) reconcile(ctx context.Context, in *Instance) (InstanceChange, bool) {
	g := in.current()
	name := g.plugin.manifest.Name
	ch := InstanceChange{Instance: in.name, Plugin: name}
	h.mu.Lock()
	target := h.plugins[name]
	h.mu.Unlock()
	switch {
	case target == nil:
		h.mu.Lock()
		if h.instances[in.name] == in {
			delete(h.instances, in.name)
		}
		h.mu.Unlock()
		h.retire(g)
		ch.Action = "stopped"
		h.log.Warn("plugin removed; its instance stops once its calls finish", "plugin", name, "instance", in.name)
	case target == g.plugin:
		return ch, false
	case target.err != nil:
		ch.Action, ch.Error = "kept", target.err.Error()
	default:
		if err := in.upgrade(ctx, target); err != nil {
			ch.Action, ch.Error = "kept", err.Error()
			h.log.Error("plugin upgrade failed; the instance keeps its running binary", "plugin", name, "instance", in.name, "error", err)
		} else {
			ch.Action = "upgraded"
			h.log.Info("instance moved to the new plugin binary", "plugin", name, "instance", in.name, "sha256", target.manifest.SHA256)
		}
	}
	return ch, true
}

// watchLoop rescans the plugins directory when its fingerprint (folders and manifest
// sizes and times) changes, so installing or upgrading a plugin needs no restart and
// no API call.
func (h *Host) watchLoop(ctx context.Context) {
	every(ctx, h.opts.ScanInterval, func() {
		stamp, err := h.fingerprint()
		if err != nil {
			h.log.Warn("watch plugins directory", "error", err)
			return
		}
		h.mu.Lock()
		same := stamp == h.lastStamp
		h.mu.Unlock()
		if same {
			return
		}
		if _, err := h.Rescan(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("rescan plugins directory", "error", err)
		}
	})
}
