package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

const secretSchema = `{"type":"object","properties":{
  "url":{"type":"string"},
  "password":{"type":"string","writeOnly":true},
  "auth":{"type":"object","properties":{"token":{"type":"string","x-secret":true},"user":{"type":"string"}}},
  "a/b":{"type":"integer","x-secret":true}}}`

func TestSecretPaths(t *testing.T) {
	got, err := SecretPaths(json.RawMessage(secretSchema))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/auth/token", "/a~1b", "/password"} // sorted bytewise
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SecretPaths = %v, want %v", got, want)
	}
}

func TestRedactAndKeepSecrets(t *testing.T) {
	paths, _ := SecretPaths(json.RawMessage(secretSchema))
	stored := json.RawMessage(`{"url":"https://erp","password":"hunter2","auth":{"token":"t0k","user":"bob"},"a/b":42}`)
	red, err := Redact(stored, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "t0k", "42"} {
		if bytes.Contains(red, []byte(secret)) {
			t.Errorf("redacted config %s still contains %q", red, secret)
		}
	}
	if !bytes.Contains(red, []byte("bob")) || !bytes.Contains(red, []byte("https://erp")) {
		t.Errorf("redaction removed non-secret fields: %s", red)
	}
	// The admin edits the URL and sends the redacted form back.
	edited := bytes.Replace(red, []byte("https://erp"), []byte("https://erp2"), 1)
	kept, err := KeepSecrets(edited, stored, paths)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(kept, &got); err != nil {
		t.Fatal(err)
	}
	if got["password"] != "hunter2" || got["url"] != "https://erp2" || got["auth"].(map[string]any)["token"] != "t0k" {
		t.Errorf("KeepSecrets = %s", kept)
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := SecretPaths(json.RawMessage(secretSchema))
	clear := json.RawMessage(`{"url":"https://erp","password":"hunter2","auth":{"token":"t0k","user":"bob"},"a/b":42}`)
	sealed, err := s.SealConfig("erp-prod", clear, paths)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) || bytes.Contains(sealed, []byte("t0k")) || !strings.Contains(string(sealed), sealedPrefix) {
		t.Fatalf("sealed config leaks secrets: %s", sealed)
	}
	again, err := s.SealConfig("erp-prod", sealed, paths)
	if err != nil || !bytes.Equal(again, sealed) {
		t.Errorf("sealing twice changed the config: %v", err)
	}
	opened, err := s.OpenConfig("erp-prod", sealed, paths)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(clear, &a)
	_ = json.Unmarshal(opened, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("OpenConfig = %s, want %s", opened, clear)
	}

	tests := []struct {
		name     string
		instance string
		key      []byte
	}{
		{"other instance cannot reuse the token", "erp-test", bytes.Repeat([]byte{7}, 32)},
		{"wrong key", "erp-prod", bytes.Repeat([]byte{8}, 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s2, err := NewSealer(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s2.OpenConfig(tt.instance, sealed, paths); err == nil {
				t.Error("OpenConfig succeeded, want an error")
			}
		})
	}
	if _, err := s.OpenConfig("erp-prod", clear, paths); !errors.Is(err, ErrNotSealed) {
		t.Errorf("opening a clear config: err = %v, want ErrNotSealed", err)
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("NewSealer accepted a 5-byte key")
	}
}

// memStore is the simplest Store: instances in a map.
type memStore struct{ m map[string]StoredInstance }

func (s *memStore) List(context.Context) ([]StoredInstance, error) {
	out := make([]StoredInstance, 0, len(s.m))
	for _, v := range s.m {
		out = append(out, v)
	}
	return out, nil
}

func (s *memStore) Put(_ context.Context, in StoredInstance) error { s.m[in.Name] = in; return nil }

func (s *memStore) Delete(_ context.Context, name string) error { delete(s.m, name); return nil }

func TestRestoreOpensSealedSecrets(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, _ := newHost(t, root, Options{HealthInterval: -1})
	sealer, err := NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	paths, err := h.SecretPaths(t.Context(), "testplugin")
	if err != nil || len(paths) != 1 || paths[0] != "/api_key" {
		t.Fatalf("SecretPaths = %v, %v; want [/api_key]", paths, err)
	}
	clear := cfgJSON(t, map[string]string{"dir": t.TempDir(), "api_key": "s3cret"})
	sealed, err := sealer.SealConfig("erp", clear, paths)
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{m: map[string]StoredInstance{}}
	if err := store.Put(t.Context(), StoredInstance{Name: "erp", Plugin: "testplugin", Config: sealed}); err != nil {
		t.Fatal(err)
	}
	// A second stored instance names a plugin that is not installed: reported, not fatal.
	_ = store.Put(t.Context(), StoredInstance{Name: "ghost", Plugin: "nope", Config: json.RawMessage(`{}`)})
	err = h.Restore(t.Context(), store, sealer)
	if err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("Restore err = %v, want the ghost instance reported", err)
	}
	in, err := h.Instance("erp")
	if err != nil {
		t.Fatal(err)
	}
	if pid := in.PID(); pid != 0 {
		t.Errorf("restored instance already running (pid %d); it should start on first use", pid)
	}
	if !strings.Contains(string(in.Config()), "s3cret") {
		t.Errorf("restored config %s lacks the opened secret", in.Config())
	}
	if _, err := in.Health(t.Context(), connector.HealthRequest{}); err != nil || in.PID() == 0 {
		t.Errorf("restored instance after its first call: pid %d, err %v; want running and healthy", in.PID(), err)
	}
	red, err := Redact(in.Config(), paths)
	if err != nil || strings.Contains(string(red), "s3cret") {
		t.Errorf("Redact = %s, %v", red, err)
	}
}
