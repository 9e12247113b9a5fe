package bpmn

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes through Parse, Validate and Compile: none may panic or hang, and a
// successful parse must come with a content hash.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bpmn"))
	for _, path := range files {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(doc(start+end+chain("S", "E"), "")))
	f.Add([]byte(`<definitions/>`))
	f.Add([]byte(`<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P"><bpmn:subProcess id="S"><bpmn:subProcess id="S"/></bpmn:subProcess></bpmn:process></bpmn:definitions>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := Parse(bytes.NewReader(data), 1<<20)
		if err != nil {
			if defs != nil {
				t.Fatal("definitions returned with an error")
			}
			return
		}
		if len(defs.Hash) != 64 {
			t.Fatalf("hash %q", defs.Hash)
		}
		_ = Validate(defs, Options{})
		for _, p := range defs.Processes {
			m, ps := Compile(defs, p.ID)
			if (m == nil) == (len(ps) == 0) {
				t.Fatalf("Compile returned model %v with problems %v", m != nil, ps)
			}
		}
	})
}
