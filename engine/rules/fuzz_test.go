package rules

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCompileRuleSet feeds arbitrary JSON through the rule compiler (ParseRuleSet, then Compile against
// the lead environment) and evaluates what compiles on a lead: nothing may panic, every refusal is an
// *Error listing at least one problem with a path, and a compiled rule set keeps its key.
func FuzzCompileRuleSet(f *testing.F) {
	for _, rs := range []*RuleSet{scoring20(), discountTable("first", ""), discountTable("collect", "sum"), assignmentSet(),
		{Key: "sla", Kind: KindSLA, SLA: &SLAPolicy{Calendar: "support", Start: "openedAt",
			Targets: []SLATarget{{Name: "critical", When: `severity == "critical"`, Response: "4h", Resolution: "16h"}},
			Default: &SLATarget{Name: "standard", Response: "8h", Resolution: "40h"}}},
		{Key: "valid", Kind: KindValidation, Rules: []Rule{{Name: "email", When: `email == ""`, Message: "email is required"}}},
	} {
		raw, err := json.Marshal(rs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	env := leadEnv(f)
	rec := benchLead()
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRuleSet(data)
		if err != nil {
			return
		}
		c, err := Compile(rs, env)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("compile error %T without problems: %v", err, err)
			}
			return
		}
		if c.RuleSet().Key != rs.Key {
			t.Fatalf("compiled key %q, want %q", c.RuleSet().Key, rs.Key)
		}
		_, _ = c.Evaluate(rec, now)
		if rs.Kind == KindScoring {
			_, _, _ = c.NewSession().Score(rec, now)
		}
	})
}
