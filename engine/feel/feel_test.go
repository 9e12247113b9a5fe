package feel

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
)

var testNow = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// testVars are the variables the table's expressions see, typed as a Rapport process declares them.
func testVars() (map[string]*expression.Type, map[string]any) {
	types := map[string]*expression.Type{
		"amount":      expression.Scalar(expression.KindFloat),
		"x":           expression.Scalar(expression.KindInt),
		"name":        expression.Scalar(expression.KindString),
		"approved":    expression.Scalar(expression.KindAny),
		"missing":     expression.Scalar(expression.KindAny),
		"order":       expression.Scalar(expression.KindAny),
		"orders":      expression.Scalar(expression.KindAny),
		"tags":        expression.Scalar(expression.KindAny),
		"loopCounter": expression.Scalar(expression.KindAny),
		"limit":       expression.Scalar(expression.KindAny),
		"first name":  expression.Scalar(expression.KindAny),
	}
	values := map[string]any{
		"amount":      1500.0,
		"x":           3,
		"name":        "Ann",
		"approved":    true,
		"missing":     nil,
		"order":       map[string]any{"amount": 250, "customer": map[string]any{"name": "ACME"}, "items": []any{"a", "b"}},
		"orders":      []any{map[string]any{"id": 1, "total": 50}, map[string]any{"id": 2, "total": 150}},
		"tags":        []any{"vip", "partner"},
		"loopCounter": 2,
		"limit":       100,
		"first name":  "Ann",
	}
	return types, values
}

// feelCase is one FEEL expression, the expr it must become and the value it must give. The expected
// values are those of Camunda's documentation (the page is named per group).
type feelCase struct {
	feel  string
	expr  string // "" = not checked
	want  any
	isErr string // translation or compile error substring
}

var feelCases = []struct {
	doc   string
	cases []feelCase
}{
	{"https://docs.camunda.io/docs/components/concepts/expressions/", []feelCase{
		{feel: `order.amount > 100`, expr: `order?.amount > 100`, want: true},
		{feel: `"foo"`, expr: `"foo"`, want: "foo"},
		{feel: `21`, expr: `21`, want: 21},
		{feel: `true`, expr: `true`, want: true},
		{feel: `[1,2,3]`, expr: `[1, 2, 3]`, want: []any{1, 2, 3}},
		{feel: `{x: 22}`, expr: `{"x": 22}`, want: map[string]any{"x": 22}},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/", []feelCase{
		{feel: `5 = 5`, expr: `5 == 5`, want: true},
		{feel: `5 != 5`, expr: `5 != 5`, want: false},
		{feel: `date("2020-04-05") < date("2020-04-06")`, want: true},
		{feel: `duration("P1D") > duration("P5D")`, expr: `duration("24h0m0s") > duration("120h0m0s")`, want: false},
		{feel: `5 between 3 and 7`, expr: `(5 >= 3 && 5 <= 7)`, want: true},
		{feel: `date("2020-04-06") between date("2020-04-05") and date("2020-04-09")`, want: true},
		{feel: `null = null`, expr: `nil == nil`, want: true},
		{feel: `"foo" = null`, want: false},
		{feel: `{x: null}.x = null`, want: true},
		{feel: `{}.y = null`, want: true},
		{feel: `true and true`, expr: `true && true`, want: true},
		{feel: `true and false`, want: false},
		{feel: `true or false`, expr: `true || false`, want: true},
		{feel: `false or false`, want: false},
		{feel: `5 in (3..7)`, expr: `(5 > 3 && 5 < 7)`, want: true},
		{feel: `5 in [5..10]`, expr: `(5 >= 5 && 5 <= 10)`, want: true},
		{feel: `5 in ]5..10]`, want: false},
		{feel: `5 in (3,5,7)`, expr: `((5 == 3) || (5 == 5) || (5 == 7))`, want: true},
		{feel: `5 in < 10`, expr: `(5 < 10)`, want: true},
		{feel: `5 in [2,5,7]`, expr: `(5 in [2, 5, 7])`, want: true},
		{feel: `"vip" in tags`, expr: `("vip" in tags)`, want: true},
		{feel: `amount in > 1000`, want: true},
		{feel: `x == 5`, isErr: "single '='"},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-boolean/", []feelCase{
		{feel: `not(true)`, expr: `!(true)`, want: false},
		{feel: `is defined(1)`, expr: `(1 != nil)`, want: true},
		{feel: `is defined(null)`, want: false},
		{feel: `is defined(missing)`, want: false},
		{feel: `is defined(order.customer.name)`, want: true},
		{feel: `is defined(order.nothing.name)`, expr: `(order?.nothing?.name != nil)`, want: false},
		{feel: `get or else("this", "default")`, expr: `("this" ?? "default")`, want: "this"},
		{feel: `get or else(null, "default")`, want: "default"},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-control-flow/", []feelCase{
		{feel: `if 5 < 10 then "low" else "high"`, expr: `((5 < 10) ? "low" : "high")`, want: "low"},
		{feel: `if 12 < 10 then "low" else "high"`, want: "high"},
		{feel: `if null then "low" else "high"`, expr: `((nil) == true ? "low" : "high")`, want: "high"},
		{feel: `if approved then "yes" else "no"`, want: "yes"},
		{feel: `for x in [1,2,3] return x * 2`, expr: `map([1, 2, 3], let $x = #; ($x * 2))`, want: []any{2, 4, 6}},
		{feel: `for x in [1,2], y in [3,4] return x * y`, want: []any{3, 4, 6, 8}},
		{feel: `for x in 0..8 return 2 ** x`, want: []any{1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0}},
		{feel: `some x in [1,2,3] satisfies x > 2`, expr: `any([1, 2, 3], let $x = #; ($x > 2))`, want: true},
		{feel: `some x in [1,2,3] satisfies x > 5`, want: false},
		{feel: `every x in [1,2,3] satisfies x >= 1`, expr: `all([1, 2, 3], let $x = #; ($x >= 1))`, want: true},
		{feel: `every x in [1,2,3] satisfies x >= 2`, want: false},
		{feel: `some x in [1,2], y in [2,3] satisfies x < y`, want: true},
		{feel: `1 instance of number`, isErr: "instance of"},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-list-expressions/", []feelCase{
		{feel: `[[1,2], [3,4], [5,6]]`, want: []any{[]any{1, 2}, []any{3, 4}, []any{5, 6}}},
		{feel: `[1,2,3,4][1]`, expr: `get([1, 2, 3, 4], 0)`, want: 1},
		{feel: `[1,2,3,4][4]`, want: 4},
		{feel: `[1,2,3,4][5]`, want: nil},
		{feel: `[1,2,3,4][-1]`, expr: `get([1, 2, 3, 4], -1)`, want: 4},
		{feel: `[1,2,3,4][-5]`, want: nil},
		{feel: `[1,2,3,4][0]`, isErr: "FEEL lists start at 1"},
		{feel: `order.items[loopCounter]`, expr: `get(order?.items, (loopCounter) - 1)`, want: "b"},
		{feel: `[1,2,3,4][item > 2]`, expr: `filter([1, 2, 3, 4], let $item = #; ($item > 2))`, want: []any{3, 4}},
		{feel: `[1,2,3,4][item > 10]`, want: []any{}},
		{feel: `[1,2,3,4][even(item)]`, want: []any{2, 4}},
		{feel: `orders[total > 100]`, expr: `filter(orders, let $item = #; ($item?.total > 100))`, want: []any{map[string]any{"id": 2, "total": 150}}},
		{feel: `orders[total > limit].id`, expr: `map(filter(orders, let $item = #; ($item?.total > limit)), #?.id)`, want: []any{2}},
		{feel: `orders[item.total > limit][1].id`, want: 2},
		{feel: `count(orders[total < limit])`, want: 1},
		{feel: `[{a: 1}, {a: 2}].a`, want: []any{1, 2}},
		{feel: `(for o in orders return o.total)[2]`, want: 150},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-list/", []feelCase{
		{feel: `list contains([1,2,3], 2)`, expr: `(2 in [1, 2, 3])`, want: true},
		{feel: `count([1,2,3])`, expr: `len([1, 2, 3])`, want: 3},
		{feel: `min([1,2,3])`, want: 1},
		{feel: `min(1,2,3)`, expr: `min([1, 2, 3])`, want: 1},
		{feel: `max([1,2,3])`, want: 3},
		{feel: `sum([1,2,3])`, want: 6},
		{feel: `sum(1,2,3)`, want: 6},
		{feel: `mean([1,2,3])`, want: 2.0},
		{feel: `append([1], 2, 3)`, expr: `concat([1], [2, 3])`, want: []any{1, 2, 3}},
		{feel: `concatenate([1,2],[3])`, want: []any{1, 2, 3}},
		{feel: `distinct values([1,2,3,2,1])`, want: []any{1, 2, 3}},
		{feel: `flatten([[1,2],[[3]], 4])`, want: []any{1, 2, 3, 4}},
		{feel: `reverse([1,2,3])`, want: []any{3, 2, 1}},
		{feel: `sublist([1,2,3], 2)`, want: []any{2, 3}},
		{feel: `sublist([1,2,3], 1, 2)`, want: []any{1, 2}},
		{feel: `is empty([])`, want: true},
		{feel: `all([true,false])`, want: false},
		{feel: `any([false,true])`, want: true},
		{feel: `string join(["a","b","c"])`, expr: `join(["a", "b", "c"], "")`, want: "abc"},
		{feel: `string join(["a","b","c"], ", ")`, want: "a, b, c"},
		{feel: `string join(["a","b","c"], ", ", "[", "]")`, want: "[a, b, c]"},
		{feel: `string join(tags, " and ")`, want: "vip and partner"},
		{feel: `index of([1,2,3,2], 2)`, isErr: `function 'index of'`},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-string/", []feelCase{
		{feel: `substring("foobar", 3)`, expr: `("foobar")[2:]`, want: "obar"},
		{feel: `substring("foobar", -2)`, want: "ar"},
		{feel: `substring("foobar", 3, 3)`, want: "oba"},
		{feel: `substring("foobar", -3, 2)`, want: "ba"},
		{feel: `substring("foobar", -2, 2)`, want: "ar"},
		{feel: `substring("foobar", 3, 10)`, want: "obar"},
		{feel: `substring("foobar", x)`, want: "obar"},
		{feel: `string length("foo")`, expr: `len("foo")`, want: 3},
		{feel: `upper case("aBc4")`, expr: `upper("aBc4")`, want: "ABC4"},
		{feel: `lower case("aBc4")`, want: "abc4"},
		{feel: `contains("foobar", "of")`, expr: `("foobar" contains "of")`, want: false},
		{feel: `starts with("foobar", "fo")`, expr: `("foobar" startsWith "fo")`, want: true},
		{feel: `ends with("foobar", "r")`, want: true},
		{feel: `matches("foobar", "^fo*bar")`, expr: `("foobar" matches "^fo*bar")`, want: true},
		{feel: `"foo" + "bar"`, expr: `"foo" + "bar"`, want: "foobar"},
		{feel: `"Hello " + name`, want: "Hello Ann"},
		{feel: `string(1.5)`, want: "1.5"},
		{feel: `number("1500.5")`, want: 1500.5},
		{feel: `trim("  a ")`, want: "a"},
		{feel: `replace("abcd", "(ab)|(a)", "[1=$1][2=$2]")`, isErr: `function 'replace'`},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-numeric-expressions/", []feelCase{
		{feel: `1 + 1`, want: 2},
		{feel: `5 - 3`, want: 2},
		{feel: `5 * 3`, want: 15},
		{feel: `6 / 2`, want: 3.0},
		{feel: `5 / 2`, want: 2.5},
		{feel: `2 ** 3`, want: 8.0},
		{feel: `-5`, expr: `-(5)`, want: -5},
		{feel: `.5 + 1`, expr: `0.5 + 1`, want: 1.5},
		{feel: `abs(-3)`, want: 3},
		{feel: `floor(1.5)`, want: 1.0},
		{feel: `ceiling(1.5)`, want: 2.0},
		{feel: `modulo(12, 5)`, want: 2},
		{feel: `decimal(1/3, 2)`, want: 0.33},
		{feel: `odd(5)`, want: true},
		{feel: `even(5)`, want: false},
		{feel: `amount * 1.19 > 1000 and name = "Ann"`, want: true},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-context-expressions/", []feelCase{
		{feel: `{a:1}.a`, expr: `{"a": 1}?.a`, want: 1},
		{feel: `{b:1}.a`, want: nil},
		{feel: `{"first name": "Ann", age: 40}`, want: map[string]any{"first name": "Ann", "age": 40}},
		{feel: `{first name: "Ann"}`, want: map[string]any{"first name": "Ann"}},
		{feel: `{a: 1, a: 2}`, isErr: "appears twice"},
		{feel: `order.customer.name`, expr: `order?.customer?.name`, want: "ACME"},
		{feel: "order.`customer`.name", want: "ACME"},
		{feel: "`first name`", expr: `$env["first name"]`, want: "Ann"},
		{feel: `get value({a: 1}, "a")`, want: 1},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/", []feelCase{
		{feel: `date and time("2019-08-12T22:22:22@Europe/Berlin") < now()`, expr: `date("2019-08-12T22:22:22", "2006-01-02T15:04:05", "Europe/Berlin") < now`, want: true},
		{feel: `@"2019-08-12T22:22:22Z" < now()`, want: true},
		{feel: `@"2019-08-12" = date("2019-08-12")`, want: true},
		{feel: `now() + duration("PT2H")`, expr: `now + duration("2h0m0s")`, want: testNow.Add(2 * time.Hour)},
		{feel: `now() - @"P1D"`, want: testNow.Add(-24 * time.Hour)},
		{feel: `today()`, want: time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)},
		{feel: `duration("P1Y")`, isErr: "years-and-months"},
		{feel: `date and time("yesterday")`, isErr: "cannot read"},
		{feel: `date and time("1970-01-01T00:00Z")`, expr: `date("1970-01-01T00:00:00Z")`, want: time.Unix(0, 0).UTC()},
		{feel: `(now() - date and time("2025-03-14T09:00:00Z")) / duration("PT1S")`, expr: `(((now - date("2025-03-14T09:00:00Z"))).Seconds() / (duration("1s")).Seconds())`, want: 1800.0},
		{feel: `duration("PT1H") / @"PT1M"`, want: 60.0},
		{feel: `date and time("2025-03-14T10:30")`, expr: `date("2025-03-14T10:30:00")`, want: time.Date(2025, 3, 14, 10, 30, 0, 0, time.UTC)},
		{feel: `time("08:00:00")`, isErr: `function 'time'`},
	}},
	{"https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-expressions-introduction/", []feelCase{
		{feel: "// a comment\n1 + /* two */ 2", want: 3},
		{feel: `function(x) x + 1`, isErr: "function definition"},
		{feel: `contains(string: "a", match: "b")`, isErr: "named arguments"},
		{feel: `"unclosed`, isErr: "not closed"},
		{feel: `1 +`, isErr: "ends too early"},
		{feel: `(1 + 2`, isErr: "expected ')'"},
		{feel: ``, isErr: "empty"},
	}},
}

// TestTable translates every documented case, compares the expr text and runs it through
// engine/expression, comparing the value with the documented result.
func TestTable(t *testing.T) {
	types, values := testVars()
	env := expression.NewEnv(types)
	for _, group := range feelCases {
		for _, tc := range group.cases {
			t.Run(tc.feel, func(t *testing.T) {
				p, tr, err := Compile(tc.feel, env)
				if tc.isErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.isErr) {
						t.Fatalf("err = %v, want it to contain %q (docs: %s)", err, tc.isErr, group.doc)
					}
					return
				}
				if err != nil {
					t.Fatalf("compile: %v (docs: %s)", err, group.doc)
				}
				if tc.expr != "" && tr.Expr != tc.expr {
					t.Errorf("expr = %s, want %s", tr.Expr, tc.expr)
				}
				got, err := p.Run(values, testNow)
				if err != nil {
					t.Fatalf("run %s: %v", tr.Expr, err)
				}
				if !equal(got, tc.want) {
					t.Errorf("%s = %#v, want %#v (docs: %s)", tr.Expr, got, tc.want, group.doc)
				}
			})
		}
	}
}

// equal compares results, treating list element types ([]int from ranges, []any) alike.
func equal(a, b any) bool {
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.IsValid() && rb.IsValid() && ra.Kind() == reflect.Slice && rb.Kind() == reflect.Slice {
		if ra.Len() != rb.Len() {
			return false
		}
		for i := 0; i < ra.Len(); i++ {
			if !equal(ra.Index(i).Interface(), rb.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return reflect.DeepEqual(a, b)
}

// TestErrorPositions checks that errors name the FEEL construct at its line and column, for both
// translation errors and type errors found by engine/expression in the translation.
func TestErrorPositions(t *testing.T) {
	types, _ := testVars()
	env := expression.NewEnv(types)
	for _, tc := range []struct {
		feel      string
		line, col int
		construct string // translation errors
		message   string
	}{
		{feel: `amount > 1 and sqrt(4) = 2`, line: 1, col: 16, construct: "function 'sqrt'", message: "not supported"},
		{feel: "x = 1\n  and y instance of number", line: 2, col: 9, construct: "instance of"},
		{feel: `[1,2][0]`, line: 1, col: 6, construct: "list index"},
		{feel: `substring(name, 0)`, line: 1, col: 17, construct: "function 'substring'"},
		{feel: `name > 1`, line: 1, col: 6, message: "mismatched types"},
		{feel: `amount > 1 and name + 1 = "x"`, line: 1, col: 21, message: "mismatched types"},
		{feel: `nosuch = 1`, line: 1, col: 1, message: "unknown name nosuch"},
	} {
		t.Run(tc.feel, func(t *testing.T) {
			_, _, err := Compile(tc.feel, env)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *Error
			var ee *expression.Error
			switch {
			case errors.As(err, &fe):
				if fe.Line != tc.line || fe.Column != tc.col || fe.Construct != tc.construct || !strings.Contains(fe.Message, tc.message) {
					t.Errorf("got %d:%d %q %q, want %d:%d %q %q", fe.Line, fe.Column, fe.Construct, fe.Message, tc.line, tc.col, tc.construct, tc.message)
				}
			case errors.As(err, &ee):
				p := ee.Problems[0]
				if tc.construct != "" || p.Line != tc.line || p.Column != tc.col || !strings.Contains(p.Message, tc.message) {
					t.Errorf("got %v, want %d:%d %q", p, tc.line, tc.col, tc.message)
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
		})
	}
}

// TestBoundNamesDoNotCollide shows that for/some/filter variables never clash with process
// variables of the same name (a multi-instance `item`, a variable `x`).
func TestBoundNamesDoNotCollide(t *testing.T) {
	env := expression.NewEnv(map[string]*expression.Type{"item": expression.Scalar(expression.KindInt), "x": expression.Scalar(expression.KindInt)})
	for src, want := range map[string]any{
		`for x in [1,2] return x + item`:                          []any{11, 12},
		`[1,20,30][item > x]`:                                     []any{20, 30},
		`for x in [1,2] return for x in [3] return x`:             []any{[]any{3}, []any{3}},
		`some x in [[1,2]] satisfies some x in x satisfies x > 1`: true,
	} {
		p, tr, err := Compile(src, env)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Run(map[string]any{"item": 10, "x": 5}, testNow)
		if err != nil || !equal(got, want) {
			t.Errorf("%s → %s = %#v, %v; want %#v", src, tr.Expr, got, err, want)
		}
	}
}
