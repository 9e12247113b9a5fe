package connections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/rapportcrm/rapport/plugins/host"
)

// RebindError refuses a configuration that keeps stored secrets (sends them back as "********") while
// changing anything else: a new URL, database or user would receive a password that was entered for
// another one. The secrets must be entered again.
type RebindError struct {
	// Secrets are the JSON pointers of the kept secrets; Changed those of the other fields that differ.
	Secrets []string
	Changed []string
}

// Error implements error.
func (e *RebindError) Error() string {
	return fmt.Sprintf("the configuration changes %s, so the stored secret(s) %s are not kept: enter them again",
		strings.Join(e.Changed, ", "), strings.Join(e.Secrets, ", "))
}

// KeepSecrets restores, in a configuration an administrator sent back, the secrets still shown as the
// placeholder from the stored configuration — only when nothing else changed. Editing a connector
// without touching where it points keeps its password; changing anything while keeping a secret is a
// *RebindError.
func KeepSecrets(updated, stored json.RawMessage, paths []string) (json.RawMessage, error) {
	next, err := decodeObject(updated)
	if err != nil {
		return nil, fmt.Errorf("parse configuration: %w", err)
	}
	prev, err := decodeObject(stored)
	if err != nil {
		return nil, fmt.Errorf("parse stored configuration: %w", err)
	}
	var kept []string
	for _, p := range paths {
		if v, ok := lookup(next, p); ok && v == host.Redacted {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return updated, nil
	}
	for _, p := range paths {
		remove(next, p)
		remove(prev, p)
	}
	if changed := diff("", next, prev); len(changed) > 0 {
		sort.Strings(kept)
		return nil, &RebindError{Secrets: kept, Changed: changed}
	}
	return host.KeepSecrets(updated, stored, paths)
}

func decodeObject(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func splitPointer(p string) []string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

func lookup(m map[string]any, pointer string) (any, bool) {
	var cur any = m
	for _, k := range splitPointer(pointer) {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func remove(m map[string]any, pointer string) {
	parts := splitPointer(pointer)
	for _, k := range parts[:len(parts)-1] {
		child, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = child
	}
	delete(m, parts[len(parts)-1])
}

// diff lists the JSON pointers at which a and b differ, descending into objects present on both sides.
func diff(prefix string, a, b map[string]any) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		p := prefix + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
		av, aok := a[k]
		bv, bok := b[k]
		am, amap := av.(map[string]any)
		bm, bmap := bv.(map[string]any)
		switch {
		case aok && bok && amap && bmap:
			out = append(out, diff(p, am, bm)...)
		case aok != bok || !reflect.DeepEqual(av, bv):
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
