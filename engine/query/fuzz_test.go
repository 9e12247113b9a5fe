package query

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// allowedOperators are the only MongoDB operators a translated filter may
// contain; anything else would mean client input leaked into operators.
var allowedOperators = map[string]bool{
	"$and": true, "$or": true, "$nor": true, "$ne": true, "$lt": true, "$lte": true,
	"$gt": true, "$gte": true, "$in": true, "$nin": true, "$regex": true, "$options": true,
}

func checkKeys(t *testing.T, v any) {
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			if strings.HasPrefix(e.Key, "$") && !allowedOperators[e.Key] {
				t.Fatalf("operator %q in translated filter", e.Key)
			}
			checkKeys(t, e.Value)
		}
	case bson.A:
		for _, e := range x {
			checkKeys(t, e)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`name == "Ann"`, `score > 10 and vip`, `status in ["new", "contacted"]`, `not (name contains "x")`,
		`owner == nil || budget.amount >= 1.5`, `createdAt > "2026-01-01"`, `$where == 1`, `name matches ".*"`,
		`tags contains "a" && !(score < -3)`, `1 < score < 5`, `address.city startsWith "Mo"`, "name ==\n\"x\"",
	} {
		f.Add(s)
	}
	fields := testFields()
	f.Fuzz(func(t *testing.T, src string) {
		d, err := ParseFilter(src, fields)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("error %T is not a *query.Error: %v", err, err)
			}
			if qe.Line < 1 || qe.Column < 1 || qe.Message == "" {
				t.Fatalf("bad position or message: %+v", qe)
			}
			return
		}
		checkKeys(t, d)
		if _, err := bson.Marshal(d); err != nil {
			t.Fatalf("translated filter does not encode: %v", err)
		}
	})
}

// hiddenPaths are the fields a reader may not see in FuzzParseFilterHidden: a scalar, a whole object,
// and one part of an object.
var hiddenPaths = []string{"score", "address", "budget.amount"}

func isHiddenPath(p string) bool {
	for _, h := range hiddenPaths {
		if p == h || strings.HasPrefix(p, h+".") || strings.HasPrefix(h, p+".") {
			return true
		}
	}
	return false
}

// namedPaths collects every field path a translated filter compares.
func namedPaths(v any, out map[string]bool) {
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			if !strings.HasPrefix(e.Key, "$") {
				out[e.Key] = true
			}
			namedPaths(e.Value, out)
		}
	case bson.A:
		for _, e := range x {
			namedPaths(e, out)
		}
	}
}

// FuzzParseFilterHidden parses filters over the fields a reader may read: whatever the input, the
// translated filter names no hidden path (nor a parent or part of one), uses only allowed operators,
// and a refusal is a positioned *query.Error.
func FuzzParseFilterHidden(f *testing.F) {
	for _, s := range []string{
		`score > 2000`, `score == 1234`, `address.city == "x"`, `address == nil`, `budget.amount > 1`, `budget == nil`,
		`name == "x" or score > 1`, `not (score < 3)`, `"x" in tags`, `budget.currency == "RUB"`, `lines.qty > 2`,
		`score > 9223372036854775807`, `name startsWith "sc"`, `address.city in ["a", nil]`,
	} {
		f.Add(s)
	}
	fields := testFields().Without(isHiddenPath)
	f.Fuzz(func(t *testing.T, src string) {
		d, err := ParseFilter(src, fields)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Line < 1 || qe.Column < 1 || qe.Message == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		checkKeys(t, d)
		paths := map[string]bool{}
		namedPaths(d, paths)
		for p := range paths {
			if isHiddenPath(p) {
				t.Fatalf("filter %q names the hidden path %q: %v", src, p, d)
			}
		}
	})
}
