package records

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/schema"
)

var fuzzSort = bson.D{{Key: "status", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}

// FuzzDecodeCursor feeds the cursor decoder two things: arbitrary text as a cursor (it must be refused,
// never panic — nothing but a sealed cursor opens), and arbitrary bytes sealed with the server's key
// (as if the key leaked or the encoder had a bug): whatever they hold, the condition built from them
// only compares the sort keys with scalar values.
func FuzzDecodeCursor(f *testing.F) {
	sl, err := newSealer([]byte("fuzz key fuzz key fuzz key fuzz!"))
	if err != nil {
		f.Fatal(err)
	}
	const ad = "lead\x00status:1,createdAt:-1,_id:-1"
	good, _ := bson.Marshal(bson.D{{Key: "v", Value: bson.A{"new", bson.DateTime(1700000000000), "id-1"}}})
	evil, _ := bson.Marshal(bson.D{{Key: "v", Value: bson.A{bson.D{{Key: "$regex", Value: ".*"}}, bson.D{{Key: "$where", Value: "1"}}, nil}}})
	short, _ := bson.Marshal(bson.D{{Key: "v", Value: bson.A{"new"}}})
	f.Add(sl.seal(ad, good), good)
	f.Add("garbage", evil)
	f.Add("", short)
	f.Add(sl.seal("other\x00status:1", good), []byte{})
	f.Fuzz(func(t *testing.T, token string, payload []byte) {
		if _, err := decodeCursor(sl, ad, token, fuzzSort); err == nil && !isSealedBy(sl, ad, token) {
			t.Fatalf("an unsealed cursor %q was accepted", token)
		}
		cond, err := decodeCursor(sl, ad, sl.seal(ad, payload), fuzzSort)
		if err != nil {
			if !errors.Is(err, errBadCursor) {
				t.Fatalf("error %v is not errBadCursor", err)
			}
			return
		}
		checkCursorCondition(t, cond)
	})
}

func isSealedBy(sl *sealer, ad, token string) bool {
	_, ok := sl.open(ad, token)
	return ok
}

// checkCursorCondition walks a decoded cursor condition: operators are the decoder's own, fields are
// sort keys, and every compared value is a scalar.
func checkCursorCondition(t *testing.T, v any) {
	t.Helper()
	keys := map[string]bool{"status": true, "createdAt": true, "_id": true}
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			switch {
			case e.Key == "$or":
				checkCursorCondition(t, e.Value)
			case e.Key == "$gt" || e.Key == "$lt" || e.Key == "$ne" || e.Key == "$in":
				checkScalar(t, e.Value)
			case keys[e.Key]:
				if d, ok := e.Value.(bson.D); ok {
					checkCursorCondition(t, d)
				} else {
					checkScalar(t, e.Value)
				}
			default:
				t.Fatalf("key %q in a cursor condition", e.Key)
			}
		}
	case bson.A:
		for _, e := range x {
			checkCursorCondition(t, e)
		}
	default:
		t.Fatalf("%T in a cursor condition", v)
	}
}

func checkScalar(t *testing.T, v any) {
	t.Helper()
	switch v.(type) {
	case nil, string, int32, int64, float64, bool, bson.DateTime:
	case bson.A:
		if len(v.(bson.A)) != 0 {
			t.Fatalf("a list %v compared", v)
		}
	default:
		t.Fatalf("a %T (%v) compared", v, v)
	}
}

// FuzzMapRows feeds the CSV row mapper arbitrary files and mappings for the lead entity: it never
// panics, refuses a file only with an *ImportFormatError, maps columns only to fields of the entity,
// numbers rows from 1 in order, and puts in each record only fields the mapping names.
func FuzzMapRows(f *testing.F) {
	all, err := schema.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	var lead schema.Entity
	for _, e := range all {
		if e.Name == "lead" {
			lead = e
		}
	}
	f.Add([]byte("Name,E-mail,Budget,Status,Source\nAnn,ann@x.test,1000 RUB,new,import\n"), `{"E-mail":"email"}`)
	f.Add([]byte("name,budget.amount,budget.currency,score\n\"a,b\",\"1 000,5\",EUR,12\nx,y\n"), `{}`)
	f.Add([]byte("\xef\xbb\xbfname;email\nx;y\n"), `null`)
	f.Add([]byte("name,need\n'=HYPERLINK(\"x\"),@SUM(1)\n"), `{"need":"need"}`)
	f.Add([]byte("a,b\n1,2\n"), `{"a":"nosuch","b":"-"}`)
	f.Add([]byte("budget,budget.amount\n{\"amount\":1},2\n"), `{"budget":"budget"}`)
	f.Fuzz(func(t *testing.T, data []byte, mapping string) {
		var m ImportMapping
		_ = json.Unmarshal([]byte(mapping), &m)
		rows, used, _, err := mapRows(lead, data, m)
		if err != nil {
			var fe *ImportFormatError
			if !errors.As(err, &fe) || fe.Msg == "" {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		tops := map[string]bool{}
		for col, target := range used {
			if fieldAt(lead, target) == nil {
				t.Fatalf("column %q mapped to %q, not a field of lead", col, target)
			}
			tops[strings.Split(target, ".")[0]] = true
		}
		last := 0
		for _, r := range rows {
			if r.row <= last {
				t.Fatalf("row %d after row %d", r.row, last)
			}
			last = r.row
			for k := range r.record {
				if !tops[k] {
					t.Fatalf("row %d has %q, which no column maps to", r.row, k)
				}
			}
		}
	})
}
