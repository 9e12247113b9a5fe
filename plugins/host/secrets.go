package host

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Redacted replaces secret values in configuration shown through the API. A
// configuration sent back with this placeholder keeps the stored secret (KeepSecrets).
const Redacted = "********"

// sealedPrefix marks a sealed secret value inside a stored configuration, with the
// format version so the scheme can change later.
const sealedPrefix = "sealed:v1:"

// SecretPaths lists the JSON Pointers of the configuration fields a plugin's schema
// marks as secret, with "writeOnly": true or "x-secret": true. It follows nested
// "properties"; secrets inside arrays are not supported.
func SecretPaths(schema json.RawMessage) ([]string, error) {
	var root any
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("parse config schema: %w", err)
	}
	var out []string
	var walk func(node any, path string)
	walk = func(node any, path string) {
		m, ok := node.(map[string]any)
		if !ok {
			return
		}
		if path != "" && (m["writeOnly"] == true || m["x-secret"] == true) {
			out = append(out, path)
			return
		}
		props, _ := m["properties"].(map[string]any)
		for name, sub := range props {
			walk(sub, path+"/"+escapePointer(name))
		}
	}
	walk(root, "")
	slices.Sort(out)
	return out, nil
}

// SecretPaths returns the secret fields of a plugin's configuration schema.
func (h *Host) SecretPaths(ctx context.Context, pluginName string) ([]string, error) {
	d, err := h.Describe(ctx, pluginName)
	if err != nil {
		return nil, err
	}
	return SecretPaths(d.ConfigSchema)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func splitPointer(p string) []string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// rewrite applies fn to every value present at one of paths and re-encodes cfg.
func rewrite(cfg json.RawMessage, paths []string, fn func(path string, v any) (any, error)) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("parse configuration: %w", err)
	}
	for _, p := range paths {
		parts := splitPointer(p)
		obj := root
		for _, k := range parts[:len(parts)-1] {
			next, ok := obj[k].(map[string]any)
			if !ok {
				obj = nil
				break
			}
			obj = next
		}
		last := parts[len(parts)-1]
		if obj == nil {
			continue
		}
		v, ok := obj[last]
		if !ok || v == nil {
			continue
		}
		nv, err := fn(p, v)
		if err != nil {
			return nil, err
		}
		obj[last] = nv
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	return b, nil
}

// Redact returns cfg with every secret value replaced by Redacted, for API output.
func Redact(cfg json.RawMessage, paths []string) (json.RawMessage, error) {
	return rewrite(cfg, paths, func(string, any) (any, error) { return Redacted, nil })
}

// KeepSecrets restores, in a configuration an admin sent back, the secrets that are
// still the Redacted placeholder, taking them from the stored configuration; so editing
// one field in the admin UI does not wipe the password it never saw.
func KeepSecrets(updated, stored json.RawMessage, paths []string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(stored))
	dec.UseNumber()
	var old map[string]any
	if err := dec.Decode(&old); err != nil {
		return nil, fmt.Errorf("parse stored configuration: %w", err)
	}
	return rewrite(updated, paths, func(p string, v any) (any, error) {
		if v != Redacted {
			return v, nil
		}
		var cur any = old
		for _, k := range splitPointer(p) {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("secret %s: no stored value to keep", p)
			}
			cur = m[k]
		}
		if cur == nil {
			return nil, fmt.Errorf("secret %s: no stored value to keep", p)
		}
		return cur, nil
	})
}

// Sealer encrypts configuration secrets at rest with AES-GCM under a key the caller
// supplies (from the environment or a key file, never from the database it protects).
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer builds a Sealer from a 16-, 24- or 32-byte AES key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets cipher: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad (e.g. the instance name and field path, so a
// sealed value cannot be moved to another field) and returns a printable token.
func (s *Sealer) Seal(plaintext, aad []byte) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, plaintext, aad)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// ErrNotSealed reports a value that should have been sealed but is not.
var ErrNotSealed = errors.New("value is not sealed")

// Open decrypts a token made by Seal with the same aad.
func (s *Sealer) Open(token string, aad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(token, sealedPrefix)
	if !ok {
		return nil, ErrNotSealed
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	n := s.aead.NonceSize()
	if len(ct) < n {
		return nil, errors.New("open sealed value: too short")
	}
	pt, err := s.aead.Open(nil, ct[:n], ct[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("open sealed value (wrong key or tampered): %w", err)
	}
	return pt, nil
}

// SealConfig returns cfg with each secret value replaced by a sealed token, ready to
// store. The instance name and the field's path are bound in as associated data.
func (s *Sealer) SealConfig(instance string, cfg json.RawMessage, paths []string) (json.RawMessage, error) {
	return rewrite(cfg, paths, func(p string, v any) (any, error) {
		if str, ok := v.(string); ok && strings.HasPrefix(str, sealedPrefix) {
			return v, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", p, err)
		}
		return s.Seal(b, []byte(instance+"#"+p))
	})
}

// OpenConfig reverses SealConfig, returning the configuration in clear for Configure.
func (s *Sealer) OpenConfig(instance string, cfg json.RawMessage, paths []string) (json.RawMessage, error) {
	return rewrite(cfg, paths, func(p string, v any) (any, error) {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("open %s: %w", p, ErrNotSealed)
		}
		b, err := s.Open(str, []byte(instance+"#"+p))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		var out any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		return out, nil
	})
}

// StoredInstance is a connector instance as a Store keeps it: secrets sealed.
type StoredInstance struct {
	Name   string          `json:"name"`
	Plugin string          `json:"plugin"`
	Config json.RawMessage `json:"config"`
}

// Store persists connector instances; Rapport implements it on MongoDB. The host
// itself never stores anything, so it stays free of database code.
type Store interface {
	// List returns every stored instance.
	List(ctx context.Context) ([]StoredInstance, error)
	// Put creates or replaces an instance.
	Put(ctx context.Context, in StoredInstance) error
	// Delete removes an instance; deleting a missing one is not an error.
	Delete(ctx context.Context, name string) error
}

// Restore installs every instance from store, opening sealed secrets with sealer and
// validating each configuration against its plugin's schema. The processes start on
// each instance's first call. Instances that fail are reported together; the others
// are installed.
func (h *Host) Restore(ctx context.Context, store Store, sealer *Sealer) error {
	list, err := store.List(ctx)
	if err != nil {
		return fmt.Errorf("list stored instances: %w", err)
	}
	var errs []error
	for _, si := range list {
		paths, err := h.SecretPaths(ctx, si.Plugin)
		if err == nil {
			var cfg json.RawMessage
			if cfg, err = sealer.OpenConfig(si.Name, si.Config, paths); err == nil {
				_, err = h.configure(ctx, si.Name, si.Plugin, cfg, false)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %q: %w", si.Name, err))
		}
	}
	return errors.Join(errs...)
}
