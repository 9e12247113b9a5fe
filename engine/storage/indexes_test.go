package storage_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestIndexesAreCreatedOnlyThroughEnsureIndexes keeps index creation to one way: a store that calls the
// driver's CreateOne or CreateMany itself skips what EnsureIndexes does for the embedded store (skip
// existing indexes by name, one at a time, retry a race), and FerretDB drops the connection when
// createIndexes names several existing ones. The walk covers every non-test Go file of the module
// outside this package.
func TestIndexesAreCreatedOnlyThroughEnsureIndexes(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var offenders []string
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git", "storage":
				if d.Name() != "storage" || path == filepath.Join(root, "engine", "storage") {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "CreateOne" && sel.Sel.Name != "CreateMany") {
				return true
			}
			if inner, ok := sel.X.(*ast.CallExpr); ok {
				if is, ok := inner.Fun.(*ast.SelectorExpr); ok && is.Sel.Name == "Indexes" {
					rel, _ := filepath.Rel(root, path)
					offenders = append(offenders, rel+": Indexes()."+sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("walked only %d Go files under %s; is the module root right?", files, root)
	}
	for _, o := range offenders {
		t.Errorf("%s: create indexes with storage.EnsureIndexes", o)
	}
}
