package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// ManifestFile is the name of the manifest inside each plugin's folder.
const ManifestFile = "plugin.json"

// Manifest describes one installed plugin. It is written by whoever installs the plugin
// and is the host's only source of trust: the binary must hash to SHA256.
type Manifest struct {
	// Name identifies the plugin in configuration and logs; it must equal the folder name.
	Name string `json:"name"`
	// Binary is the executable's path relative to the plugin's folder.
	Binary string `json:"binary"`
	// SHA256 is the hex SHA-256 of the binary; a mismatch refuses the launch.
	SHA256 string `json:"sha256"`
	// ProtocolVersion is the newest connector protocol the binary speaks: 1 (the fixed
	// methods) or 2 (plus described operations). go-plugin negotiates the version at
	// launch; a manifest naming a version this host does not know is refused.
	ProtocolVersion int `json:"protocol_version"`
	// DefaultConfig is merged under every instance's configuration (instance keys win).
	DefaultConfig json.RawMessage `json:"default_config,omitempty"`
	// Args are extra command-line arguments for the binary.
	Args []string `json:"args,omitempty"`
	// MaxConcurrency caps concurrent calls into one plugin process; 0 uses the host default.
	MaxConcurrency int `json:"max_concurrency,omitempty"`
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ErrChecksum marks a plugin binary whose SHA-256 does not match its manifest.
var ErrChecksum = errors.New("plugin binary checksum mismatch")

// ErrHandshake marks a plugin that did not complete go-plugin's handshake, typically
// because it printed to stdout before it.
var ErrHandshake = errors.New("plugin handshake failed")

// LoadManifest reads and validates dir/plugin.json.
func LoadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	m.SHA256 = strings.ToLower(m.SHA256)
	if err := m.validate(filepath.Base(dir)); err != nil {
		return m, fmt.Errorf("manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

func (m Manifest) validate(folder string) error {
	switch {
	case !nameRE.MatchString(m.Name):
		return fmt.Errorf("name %q must be lower-case letters, digits, '-' or '_'", m.Name)
	case m.Name != folder:
		return fmt.Errorf("name %q must equal its folder name %q", m.Name, folder)
	case m.Binary == "" || filepath.IsAbs(m.Binary) || !filepath.IsLocal(m.Binary):
		return fmt.Errorf("binary %q must be a path inside the plugin folder", m.Binary)
	case !sha256RE.MatchString(m.SHA256):
		return fmt.Errorf("sha256 %q must be 64 hex digits", m.SHA256)
	case m.ProtocolVersion < 1 || m.ProtocolVersion > connector.ProtocolVersion:
		return fmt.Errorf("protocol_version %d is not supported (this host speaks 1 to %d)", m.ProtocolVersion, connector.ProtocolVersion)
	case m.MaxConcurrency < 0:
		return fmt.Errorf("max_concurrency %d must not be negative", m.MaxConcurrency)
	}
	if len(m.DefaultConfig) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(m.DefaultConfig, &obj); err != nil {
			return fmt.Errorf("default_config must be a JSON object: %w", err)
		}
	}
	return nil
}

// FileSHA256 returns the hex SHA-256 of a file, the value a manifest's sha256 holds.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// mergeConfig lays cfg over the manifest's defaults, key by key at the top level.
func mergeConfig(defaults, cfg json.RawMessage) (json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, src := range []json.RawMessage{defaults, cfg} {
		if len(src) == 0 || string(src) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(src, &m); err != nil {
			return nil, connector.Invalid("configuration must be a JSON object: %v", err)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode merged configuration: %w", err)
	}
	return b, nil
}
