package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// InstallOptions say what Install puts where.
type InstallOptions struct {
	// Dir is the plugins directory.
	Dir string
	// Binary is the path of the built plugin.
	Binary string
	// Name is the plugin's name; empty takes the binary's file name without a
	// "rapport-connector-" prefix and an extension.
	Name string
	// ProtocolVersion is the newest connector protocol the manifest allows (default: the
	// newest this host speaks).
	ProtocolVersion int
	// Logger receives the trial launch's logs.
	Logger *slog.Logger
}

// versionedRE matches the binaries Install writes: the original name, a dash and the
// first 12 hex digits of the checksum.
var versionedRE = regexp.MustCompile(`-[0-9a-f]{12}$`)

// Install verifies a plugin binary and installs (or upgrades) it into the plugins
// directory with its manifest. The binary is first launched from a staging folder
// inside Dir (ignored by hosts, as its name starts with a dot) and must describe itself;
// only then is it moved into Dir/<name> under a name carrying its checksum, and the
// manifest replaced in one rename. A running host picks the change up on its next scan
// (or Rescan) and moves its instances to the new binary. An upgrade keeps the previous
// manifest's default_config, args and max_concurrency, and the previous binary, so the
// old process can still be restarted while it drains.
func Install(ctx context.Context, o InstallOptions) (Manifest, connector.DescribeResponse, error) {
	var none connector.DescribeResponse
	base := filepath.Base(o.Binary)
	name := o.Name
	if name == "" {
		name = strings.TrimPrefix(strings.TrimSuffix(base, filepath.Ext(base)), "rapport-connector-")
	}
	if !nameRE.MatchString(name) {
		return Manifest{}, none, fmt.Errorf("plugin name %q must be lower-case letters, digits, '-' or '_' (set one with --name)", name)
	}
	if o.ProtocolVersion == 0 {
		o.ProtocolVersion = connector.ProtocolVersion
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	stage, err := os.MkdirTemp(o.Dir, ".install-")
	if err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	defer os.RemoveAll(stage)
	sdir := filepath.Join(stage, name)
	if err := os.Mkdir(sdir, 0o755); err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	sum, err := copyHashed(o.Binary, filepath.Join(sdir, "binary"))
	if err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	m := Manifest{Name: name, Binary: versionedRE.ReplaceAllString(base, "") + "-" + sum[:12], SHA256: sum, ProtocolVersion: o.ProtocolVersion}
	if err := os.Rename(filepath.Join(sdir, "binary"), filepath.Join(sdir, m.Binary)); err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	dst := filepath.Join(o.Dir, name)
	prev, prevErr := LoadManifest(dst)
	if prevErr == nil {
		m.DefaultConfig, m.Args, m.MaxConcurrency = prev.DefaultConfig, prev.Args, prev.MaxConcurrency
	}
	if err := m.validate(name); err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(sdir, ManifestFile), m); err != nil {
		return Manifest{}, none, err
	}

	h, err := New(Options{Dir: stage, Logger: o.Logger, HealthInterval: -1, ScanInterval: -1})
	if err != nil {
		return Manifest{}, none, err
	}
	d, err := h.Describe(ctx, name)
	h.Close()
	if err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: the plugin does not start and describe itself: %w", name, err)
	}

	if err := os.MkdirAll(dst, 0o755); err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	if err := os.Rename(filepath.Join(sdir, m.Binary), filepath.Join(dst, m.Binary)); err != nil {
		return Manifest{}, none, fmt.Errorf("install %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(dst, ManifestFile), m); err != nil {
		return Manifest{}, none, err
	}
	// Older binaries this command wrote go; the previous one stays for the draining process.
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		n := e.Name()
		if n != m.Binary && (prevErr != nil || n != prev.Binary) && e.Type().IsRegular() && versionedRE.MatchString(n) {
			_ = os.Remove(filepath.Join(dst, n))
		}
	}
	return m, d, nil
}

// copyHashed copies a file (following no link at the destination) and returns the hex
// SHA-256 of what it wrote.
func copyHashed(from, to string) (string, error) {
	src, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", from)
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(dst, h), src); err != nil {
		dst.Close()
		return "", fmt.Errorf("copy %s: %w", from, err)
	}
	if err := dst.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeFileAtomic writes v as indented JSON to path through a temporary file and a
// rename, so a reader (a host's scan) never sees half a manifest.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("replace %s: %w", path, err), os.Remove(tmp))
	}
	return nil
}
