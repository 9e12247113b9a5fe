package ui_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// uiText finds the app's own words: t('English text') calls in the sources.
var uiText = regexp.MustCompile(`\bt\(\s*'((?:[^'\\]|\\.)*)'`)

// TestTranslationsComplete checks that every English text the app shows through t() has its Russian in
// src/lib/ru.json, and that ru.json holds nothing the sources no longer use, so switching the language
// never leaves a page half in English. (Entity and field labels come from the schemas' own en/ru labels.)
func TestTranslationsComplete(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("src", "lib", "ru.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ru map[string]string
	if err := json.Unmarshal(raw, &ru); err != nil {
		t.Fatalf("ru.json: %v", err)
	}
	used := map[string][]string{}
	err = filepath.WalkDir("src", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".svelte")) {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range uiText.FindAllStringSubmatch(string(src), -1) {
			key := strings.ReplaceAll(m[1], `\'`, `'`)
			if key != "..." { // the doc comment of i18n.ts
				used[key] = append(used[key], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 100 {
		t.Fatalf("found only %d texts; is the pattern still right?", len(used))
	}
	var missing, stale []string
	for k, paths := range used {
		if strings.TrimSpace(ru[k]) == "" {
			missing = append(missing, k+" ("+paths[0]+")")
		}
	}
	for k := range ru {
		if _, ok := used[k]; !ok {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("%d texts have no Russian in src/lib/ru.json:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	if len(stale) > 0 {
		t.Errorf("%d entries of src/lib/ru.json are no longer used:\n%s", len(stale), strings.Join(stale, "\n"))
	}
}
