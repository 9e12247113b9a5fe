package bpmn

import (
	"strings"
	"testing"
)

// gatewayDoc is a process whose exclusive gateway G sends to E2 when cond holds and to E otherwise;
// decls are rapport:variable declarations.
func gatewayDoc(decls, cond string) string {
	vars := ""
	if decls != "" {
		vars = `<bpmn:extensionElements><rapport:variables>` + decls + `</rapport:variables></bpmn:extensionElements>`
	}
	return doc(vars+start+`<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="E2"/>`+end+
		flow("S", "G")+flow("G", "E")+condFlow("G", "E2", cond), "")
}

// TestExpressionLanguage checks how "=" expressions are read: FEEL first (translated to expr), expr
// when the text is not FEEL, and a problem naming both readings when it is neither.
func TestExpressionLanguage(t *testing.T) {
	decls := `<rapport:variable name="amount" type="float"/><rapport:variable name="status" type="string"/><rapport:variable name="items" type="list"/>`
	for _, tc := range []struct {
		name, cond string
		want       string // compiled expr source
		problem    string // else: a problem of the flow containing this
	}{
		{name: "FEEL equality and and", cond: `=amount &gt; 1000 and status = "open"`, want: `(amount > 1000) && (status == "open")`},
		{name: "FEEL null check", cond: `=status != null`, want: `status != nil`},
		{name: "FEEL list contains", cond: `=list contains(items, "vip")`, want: `("vip" in items)`},
		{name: "FEEL some", cond: `=some i in items satisfies i = "vip"`, want: `any(items, let $i = #; ($i == "vip"))`},
		{name: "comparison read alike", cond: `=amount &gt;= 50`, want: `amount >= 50`},
		{name: "expr fallback", cond: `=len(items) &gt; 0 &amp;&amp; status == "open"`, want: `len(items) > 0 && status == "open"`},
		{name: "expr without =", cond: `status == "open"`, want: `status == "open"`},
		{name: "neither", cond: `=status === "x"`, problem: "neither FEEL nor expr"},
		{name: "FEEL type error at FEEL position", cond: `=amount = "high"`, problem: `1:8: invalid operation: == (mismatched types float64 and string)`},
		{name: "FEEL construct outside the subset", cond: `=status instance of string`, problem: "FEEL instance of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := mustParse(t, gatewayDoc(decls, tc.cond))
			m, ps := CompileWith(defs, Options{})
			if tc.problem != "" {
				if !hasProblem(ps, "F_G_E2", tc.problem) {
					t.Fatalf("problems = %v, want one containing %q", ps, tc.problem)
				}
				return
			}
			if len(ps) > 0 {
				t.Fatalf("problems: %v", ps)
			}
			if got := m.Flows[2].Condition; got != tc.want {
				t.Errorf("condition = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestUndeclaredVariables checks that undeclared variables compile as any with one warning each,
// naming the first element using them and suggesting rapport:variable, while declared variables keep
// their types.
func TestUndeclaredVariables(t *testing.T) {
	xml := doc(start+`<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/><zeebe:ioMapping>
		<zeebe:input source="=customer.email" target="to"/><zeebe:input source="=customer.name" target="name"/>
		</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>
		<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="E2"/>`+end+
		flow("S", "T")+flow("T", "G")+flow("G", "E")+condFlow("G", "E2", "=customer.vip = true and total &gt; 100"), "")
	m, ps := CompileWith(mustParse(t, xml), Options{})
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if len(m.Warnings) != 2 || m.Warnings[0].ElementID != "T" || !strings.Contains(m.Warnings[0].Reason, `variable "customer" is not declared`) ||
		!strings.Contains(m.Warnings[0].Reason, `<rapport:variable name="customer"`) || m.Warnings[1].ElementID != "F_G_E2" ||
		!strings.Contains(m.Warnings[1].Reason, `"total"`) {
		t.Errorf("warnings = %v", m.Warnings)
	}
	_, ws := Check(mustParse(t, xml), Options{})
	if len(ws) != 2 {
		t.Errorf("Check warnings = %v", ws)
	}
	// A declared variable keeps its type: comparing a declared string with a number is still refused.
	ps = Validate(mustParse(t, gatewayDoc(`<rapport:variable name="total" type="string"/>`, "=total &gt; 100")), Options{})
	if !hasProblem(ps, "F_G_E2", "mismatched types") {
		t.Errorf("declared variable lost its type: %v", ps)
	}
}

// TestMappingSources checks Zeebe's io-mapping sources: "=" is an expression, other text a literal
// string, an absent source null.
func TestMappingSources(t *testing.T) {
	xml := doc(start+`<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/><zeebe:ioMapping>
		<zeebe:input source="hello world" target="greeting"/><zeebe:input target="nothing"/><zeebe:input source="=1 + 1" target="two"/>
		<zeebe:input source="a &#34;quoted&#34; = text" target="quoted"/>
		<zeebe:output source="=if result.ok then &#34;done&#34; else &#34;failed&#34;" target="state"/>
		</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>`+end+chain("S", "T", "E"), "")
	m, ps := CompileWith(mustParse(t, xml), Options{})
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	n := m.Node("T")
	want := []Mapping{{Source: `"hello world"`, Target: "greeting"}, {Source: "nil", Target: "nothing"}, {Source: "1 + 1", Target: "two"},
		{Source: `"a \"quoted\" = text"`, Target: "quoted"}}
	if len(n.Inputs) != len(want) {
		t.Fatalf("inputs = %+v", n.Inputs)
	}
	for i := range want {
		if n.Inputs[i] != want[i] {
			t.Errorf("input %d = %+v, want %+v", i, n.Inputs[i], want[i])
		}
	}
	if len(n.Outputs) != 1 || n.Outputs[0].Source != `((result?.ok) == true ? "done" : "failed")` {
		t.Errorf("outputs = %+v", n.Outputs)
	}
}
