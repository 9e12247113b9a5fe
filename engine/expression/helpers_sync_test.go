package expression

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/expr-lang/expr/builtin"
)

// TestEditorHelpersMatchTheEngine keeps the web app's completion list (admin/ui/src/editor/helpers.ts)
// true to the engine: every helper Rapport adds is offered, and every name offered is a Rapport helper
// or an expr built-in, so an analyst is never offered a function that fails to compile.
func TestEditorHelpersMatchTheEngine(t *testing.T) {
	raw, err := os.ReadFile("../../admin/ui/src/editor/helpers.ts")
	if err != nil {
		t.Fatal(err)
	}
	var offered []string
	for _, m := range regexp.MustCompile(`name: '([A-Za-z_][A-Za-z0-9_]*)'`).FindAllStringSubmatch(string(raw), -1) {
		offered = append(offered, m[1])
	}
	if len(offered) < 10 {
		t.Fatalf("read only %d helpers from helpers.ts: has its format changed?", len(offered))
	}
	var ours []string
	for _, f := range NewEnv(nil).functions() {
		if strings.HasPrefix(f.Name, "__") { // the compiler's own rewrites, never written by hand
			continue
		}
		ours = append(ours, f.Name)
	}
	for _, name := range ours {
		if !slices.Contains(offered, name) {
			t.Errorf("helper %s is not offered by the editor's completion (admin/ui/src/editor/helpers.ts)", name)
		}
	}
	for _, name := range offered {
		if !slices.Contains(ours, name) && !slices.Contains(builtin.Names, name) {
			t.Errorf("the editor offers %s, which is neither a Rapport helper nor an expr built-in", name)
		}
	}
}
