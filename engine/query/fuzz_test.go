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
