// Package schemas embeds the definitions Rapport ships with (entities and
// default rule sets today; process templates later) so the single binary can install
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

//go:embed rules/*.json
var ruleFiles embed.FS

// Definition is one embedded definition: its name (the file name without
// extension) and its raw JSON.
type Definition struct {
	Name string
	JSON []byte
}

// Entities returns the built-in entity definitions sorted by name, as raw
// JSON for engine/schema.Parse. A fresh copy is returned on every call, so
// callers may modify it.
func Entities() ([]Definition, error) { return definitions(entityFiles, "entities") }

// Rules returns the default rule sets (engine/rules JSON, e.g. the RFM
// segment tables) sorted by name; each is named by its key.
func Rules() ([]Definition, error) { return definitions(ruleFiles, "rules") }

func definitions(files embed.FS, dir string) ([]Definition, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("list built-in %s: %w", dir, err)
	}
	out := make([]Definition, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := files.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in %s %s: %w", dir, e.Name(), err)
		}
		out = append(out, Definition{Name: strings.TrimSuffix(e.Name(), ".json"), JSON: raw})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
