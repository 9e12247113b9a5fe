// Package schemas embeds the definitions Rapport ships with (entities today;
// default rules and process templates later) so the single binary can install
// them on first start without any files beside it. It imports nothing of
// Rapport: the engine parses and checks what it returns.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed entities/*.json
var entityFiles embed.FS

// Definition is one embedded definition: its name (the file name without
// extension) and its raw JSON.
type Definition struct {
	Name string
	JSON []byte
}

// Entities returns the built-in entity definitions sorted by name, as raw
// JSON for engine/schema.Parse. A fresh copy is returned on every call, so
// callers may modify it.
func Entities() ([]Definition, error) {
	entries, err := fs.ReadDir(entityFiles, "entities")
	if err != nil {
		return nil, fmt.Errorf("list built-in entities: %w", err)
	}
	out := make([]Definition, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := entityFiles.ReadFile(path.Join("entities", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in entity %s: %w", e.Name(), err)
		}
		out = append(out, Definition{Name: strings.TrimSuffix(e.Name(), ".json"), JSON: raw})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
