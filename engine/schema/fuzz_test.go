package schema

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzValidateRecord feeds arbitrary JSON documents to the validator. It
// must never panic, must report problems with RFC 6901 pointers, and a
// record it accepts must be accepted again unchanged (normalisation is
// idempotent, so stored records re-validate).
func FuzzValidateRecord(f *testing.F) {
	for _, s := range []string{
		`{"name":"Ann"}`,
		`{"name":"Ann","emails":["A@B.ru"],"phone":"+7 912 345 67 89","age":3,"seenAt":"2026-01-01T00:00:00Z"}`,
		`{"name":null,"address":{"city":"X","zip":null}}`,
		`{"budget":{"amount":1e308,"currency":"usd"},"site":"example.com"}`,
		`{"status":"done","born":"2020-02-30","id":"x","secret":1}`,
		`{"emails":[null,1,"a@b"],"zzz":{"y":[]}}`,
	} {
		f.Add([]byte(s))
	}
	e := testEntity()
	e.Fields = append(e.Fields,
		Field{Name: "ageNext", Type: TypeInteger, Computed: "age + 1"},
		Field{Name: "nick", Type: TypeString, Rules: []Rule{{Expr: `len(nick) != 3`, Message: Label{En: "not three"}}}},
	)
	v, err := NewValidator(e)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var rec map[string]any
		if json.Unmarshal(raw, &rec) != nil || rec == nil {
			return
		}
		for _, mode := range []Mode{Create, Patch} {
			out, errs, err := v.Validate(context.Background(), deepCopy(rec).(map[string]any), mode)
			if err != nil {
				t.Fatalf("infrastructure error without a resolver: %v", err)
			}
			for _, fe := range errs {
				if fe.Message == "" || (fe.Pointer != "" && !strings.HasPrefix(fe.Pointer, "/")) {
					t.Fatalf("bad field error %+v", fe)
				}
			}
			if len(errs) > 0 || mode != Create {
				continue
			}
			again, errs2, _ := v.Validate(context.Background(), deepCopy(out).(map[string]any), Create, Trusted())
			if len(errs2) > 0 {
				t.Fatalf("accepted record %v rejected on re-validation: %v", out, errs2)
			}
			if !reflect.DeepEqual(out, again) {
				t.Fatalf("normalisation not idempotent:\n%#v\n%#v", out, again)
			}
		}
	})
}
