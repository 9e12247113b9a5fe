package rules_test

import (
	"fmt"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/rules"
)

func Example() {
	env := expression.NewEnv(map[string]*expression.Type{
		"budget": expression.Scalar(expression.KindFloat),
		"source": expression.Scalar(expression.KindString),
	})
	rs, err := rules.ParseRuleSet([]byte(`{"key": "lead-score", "kind": "scoring", "entity": "lead",
	  "rules": [{"name": "big budget", "when": "budget > 1000000", "points": 30},
	            {"name": "referral", "when": "source == \"partner\"", "points": 20}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := rules.Compile(rs, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	o, err := c.Evaluate(map[string]any{"budget": 2500000, "source": "partner"}, time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Score, o.Fired)

	// A typo is caught when the rule set is saved, with its position.
	rs.Rules[1].When = `sorce == "partner"`
	_, err = rules.Compile(rs, env)
	fmt.Println(err)
	// Output:
	// 50 [{big budget 30} {referral 20}]
	// rule set: rules[1].when:1:1: unknown name sorce (did you mean "source"?)
}
