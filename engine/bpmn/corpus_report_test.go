package bpmn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// corpusFolders are the real-world BPMN files the report covers: modeler fixtures (testdata/corpus)
// and Camunda 8 processes from public repositories (testdata/camunda, origins in its README.md).
var corpusFolders = []string{filepath.Join("testdata", "corpus"), filepath.Join("testdata", "camunda")}

// minAccepted is the number of corpus files that must be accepted; raise it as support grows, never
// lower it without saying why in the commit.
const minAccepted = 3

// corpusReport is the outcome of parsing and validating every corpus file.
type corpusReport struct {
	files, accepted, parseRefused, refused int
	// reasons maps a refusal category to its problem count and the files it occurs in.
	reasons map[string]*reasonCount
}

type reasonCount struct {
	problems int
	files    map[string]bool
}

var (
	quotedText = regexp.MustCompile(`"[^"]*"|'[^']*'|\x60[^\x60]*\x60`)
	numbers    = regexp.MustCompile(`\b\d+(:\d+)*\b`)
)

// category reduces a problem reason to its kind: quoted names, expressions and positions are
// replaced, and an expression error keeps only its first clause, so the same refusal in many files
// counts as one category.
func category(reason string) string {
	r := quotedText.ReplaceAllString(reason, "…")
	r = numbers.ReplaceAllString(r, "N")
	if i := strings.Index(r, "does not compile"); i >= 0 {
		rest := r[i+len("does not compile"):]
		if j := strings.Index(rest, ": N: "); j >= 0 {
			rest = rest[j+len(": N: "):]
			if k := strings.IndexAny(rest, "(;"); k > 0 {
				rest = rest[:k]
			}
			return strings.TrimSpace(r[:i]) + " does not compile: " + strings.TrimSpace(rest)
		}
	}
	return r
}

// runCorpusReport parses and validates every corpus file with the default options.
func runCorpusReport(t *testing.T) corpusReport {
	t.Helper()
	rep := corpusReport{reasons: map[string]*reasonCount{}}
	add := func(cat, file string) {
		rc := rep.reasons[cat]
		if rc == nil {
			rc = &reasonCount{files: map[string]bool{}}
			rep.reasons[cat] = rc
		}
		rc.problems++
		rc.files[file] = true
	}
	for _, dir := range corpusFolders {
		files, err := filepath.Glob(filepath.Join(dir, "*.bpmn"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep.files++
			name := filepath.Join(filepath.Base(dir), filepath.Base(path))
			defs, err := Parse(bytes.NewReader(data), 4<<20)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Errorf("%s: parse error of type %T: %v", name, err, err)
					continue
				}
				rep.parseRefused++
				add("parse: "+string(pe.Kind), name)
				continue
			}
			problems := Validate(defs, Options{})
			if len(problems) == 0 {
				rep.accepted++
				continue
			}
			rep.refused++
			for _, p := range problems {
				if p.Reason == "" {
					t.Errorf("%s: problem without a reason: %+v", name, p)
				}
				add(category(p.Reason), name)
			}
		}
	}
	return rep
}

// String renders the report as a table sorted by the number of files each refusal affects.
func (r corpusReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "corpus: %d files, %d accepted, %d refused at parse, %d refused at validation\n",
		r.files, r.accepted, r.parseRefused, r.refused)
	cats := make([]string, 0, len(r.reasons))
	for c := range r.reasons {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		a, c := r.reasons[cats[i]], r.reasons[cats[j]]
		if len(a.files) != len(c.files) {
			return len(a.files) > len(c.files)
		}
		if a.problems != c.problems {
			return a.problems > c.problems
		}
		return cats[i] < cats[j]
	})
	fmt.Fprintf(&b, "%8s %6s  %s\n", "problems", "files", "reason")
	for _, c := range cats {
		fmt.Fprintf(&b, "%8d %6d  %s\n", r.reasons[c].problems, len(r.reasons[c].files), c)
	}
	return b.String()
}

// TestCorpusReport parses and validates every corpus file and logs the categorised outcome (run with
// -v to see it, or set RAPPORT_CORPUS_REPORT=path to write it to a file); it fails when a file makes
// the parser return anything but a *ParseError, or when fewer than minAccepted files are accepted.
func TestCorpusReport(t *testing.T) {
	rep := runCorpusReport(t)
	if rep.files == 0 {
		t.Fatal("no corpus files found")
	}
	t.Log("\n" + rep.String())
	if out := os.Getenv("RAPPORT_CORPUS_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(rep.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rep.accepted < minAccepted {
		t.Errorf("%d files accepted, want at least %d", rep.accepted, minAccepted)
	}
}

func TestCategory(t *testing.T) {
	for in, want := range map[string]string{
		`undefined task type "pathA"; use one of record.create`:                    `undefined task type …; use one of record.create`,
		`condition does not compile: 1:19: unknown name x (did you mean "y"?)`:     `condition does not compile: unknown name x`,
		`output mapping source does not compile: 1:1: unknown name result; 2:1: z`: `output mapping source does not compile: unknown name result`,
		`plain tasks (bpmn:task) are not supported`:                                `plain tasks (bpmn:task) are not supported`,
	} {
		if got := category(in); got != want {
			t.Errorf("category(%q) = %q, want %q", in, got, want)
		}
	}
}
