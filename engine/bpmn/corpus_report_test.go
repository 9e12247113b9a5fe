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
const minAccepted = 61

// allowedRefusals are the only reasons a corpus file may be refused for: each is a construct
// README.md documents as unsupported (section "What is refused, and what to draw instead") or a
// mistake in the file, and each message names what to change. A refusal matching none of them fails
// TestCorpusReport: support the construct, or document it and add it here.
var allowedRefusals = []string{
	// Broken documents (parse errors).
	"parse: duplicate_id", "parse: invalid_child", "parse: missing_namespace", "parse: unbound_prefix",
	// Incomplete diagrams.
	"the document defines no process with flow elements; draw a process",
	"process has no start event; add a none start event",
	"service task has no task type: add <zeebe:taskDefinition",
	"send task has no task type: add <zeebe:taskDefinition",
	"message event has no messageRef; reference a bpmn:message",
	"a message end event needs a job (<zeebe:taskDefinition",
	"missing timer definition: add one of",
	"an embedded sub-process needs exactly one none start event",
	"an event sub-process needs exactly one start event with a timer, message or error definition",
	"an event sub-process start needs a timer, message or error definition",
	"gateway has several outgoing flows but flow … has neither a condition nor default status; give it a condition",
	"event-based gateway needs at least two outgoing flows",
	"a gateway needs an outgoing sequence flow; connect it",
	"script task has no assignments: add <rapport:assign",
	"business rule task names no rule set: add <rapport:ruleset",
	"unreachable: no path leads here from a start event; connect it",
	"conditional sequence flows are only supported out of exclusive and inclusive gateways; add a gateway",
	// Constructs Rapport does not run.
	"boundary without an event definition is not supported; add a timer, message or error event definition",
	"signal start events are not supported; use a message event",
	"signal intermediate catch events are not supported; use a message event",
	"conditional intermediate catch events are not supported; wait for a message",
	"compensation handlers are not supported; undo the work",
	"ad-hoc sub-processes are not supported; use an embedded sub-process",
	"event-based gateway is followed by … (intermediateCatchEvent); only timer or message catch events and receive tasks may follow it",
	"task: authentication type … is not supported; use noAuth, basic or bearer",
	"the Camunda N Java delegate camunda:class=… is not run; make it an external task",
	"the Camunda N delegate expression … is not run; make it an external task",
	"the Camunda N expression … is not run; make it an external task",
}

// allowed reports whether a refusal category is one of allowedRefusals.
func allowed(category string) bool {
	for _, a := range allowedRefusals {
		if strings.Contains(category, a) {
			return true
		}
	}
	return false
}

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
				for _, p := range pe.Problems {
					if p.ElementID == "" || !strings.Contains(p.Reason, ";") {
						t.Errorf("%s: a parse refusal must name the element and what to change: %+v", name, p)
					}
				}
				continue
			}
			// As a deployment checks it (the task type catalogue's checks), without a store behind it.
			problems := Validate(defs, Options{CheckTaskTypes: true})
			if len(problems) == 0 {
				rep.accepted++
				continue
			}
			rep.refused++
			for _, p := range problems {
				if p.Reason == "" {
					t.Errorf("%s: problem without a reason: %+v", name, p)
				}
				if p.ElementID == "" && defs.ID != "" {
					t.Errorf("%s: problem names no element: %+v", name, p)
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
	for cat, rc := range rep.reasons {
		if !allowed(cat) {
			files := make([]string, 0, len(rc.files))
			for f := range rc.files {
				files = append(files, f)
			}
			sort.Strings(files)
			t.Errorf("refusal %q (%d problems in %s) is not a documented unsupported construct", cat, rc.problems, strings.Join(files, ", "))
		}
	}
}

// TestAllowedRefusalsAreDocumented keeps the list honest: every allowed refusal is listed in
// README.md, where analysts read what Rapport refuses and what to draw instead.
func TestAllowedRefusalsAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allowedRefusals {
		if !strings.Contains(string(readme), a) {
			t.Errorf("allowed refusal %q is not listed in README.md", a)
		}
	}
}
