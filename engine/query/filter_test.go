package query

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/schema"
)

func testFields() Fields {
	return FieldsOf(schema.Entity{
		Name:  "lead",
		Label: schema.Label{En: "Lead"},
		Fields: []schema.Field{
			{Name: "name", Type: schema.TypeString},
			{Name: "email", Type: schema.TypeEmail},
			{Name: "phone", Type: schema.TypePhone},
			{Name: "score", Type: schema.TypeInteger},
			{Name: "rate", Type: schema.TypeDecimal},
			{Name: "vip", Type: schema.TypeBoolean},
			{Name: "closeDate", Type: schema.TypeDate},
			{Name: "status", Type: schema.TypeEnum, Options: []schema.Option{{Value: "new"}, {Value: "contacted"}, {Value: "qualified"}}},
			{Name: "budget", Type: schema.TypeMoney},
			{Name: "tags", Type: schema.TypeList, Item: &schema.Field{Type: schema.TypeString}},
			{Name: "owner", Type: schema.TypeReference, Ref: "user"},
			{Name: "address", Type: schema.TypeObject, Fields: []schema.Field{{Name: "city", Type: schema.TypeString}}},
			{Name: "lines", Type: schema.TypeList, Item: &schema.Field{Type: schema.TypeObject, Fields: []schema.Field{{Name: "qty", Type: schema.TypeInteger}}}},
		},
	})
}

func extJSON(t *testing.T, d bson.D) string {
	t.Helper()
	b, err := bson.MarshalExtJSON(d, true, false)
	if err != nil {
		t.Fatalf("marshal %v: %v", d, err)
	}
	return string(b)
}

func TestParseFilterTranslation(t *testing.T) {
	fields := testFields()
	tests := []struct {
		src  string
		want string
	}{
		{``, `{}`},
		{`name == "Ann"`, `{"name":"Ann"}`},
		{`"Ann" == name`, `{"name":"Ann"}`},
		{`name != 'Ann'`, `{"name":{"$ne":"Ann"}}`},
		{`score > 10`, `{"score":{"$gt":{"$numberLong":"10"}}}`},
		{`10 < score`, `{"score":{"$gt":{"$numberLong":"10"}}}`},
		{`score >= 10.0`, `{"score":{"$gte":{"$numberLong":"10"}}}`},
		{`rate <= 2`, `{"rate":{"$lte":{"$numberDouble":"2.0"}}}`},
		{`rate < -1.5`, `{"rate":{"$lt":{"$numberDouble":"-1.5"}}}`},
		{`1 < score < 5`, `{"$and":[{"score":{"$gt":{"$numberLong":"1"}}},{"score":{"$lt":{"$numberLong":"5"}}}]}`},
		{`vip`, `{"vip":true}`},
		{`!vip`, `{"vip":{"$ne":true}}`},
		{`vip == false`, `{"vip":false}`},
		{`status in ["new", "contacted"]`, `{"status":{"$in":["new","contacted"]}}`},
		{`status not in ["new"]`, `{"status":{"$nin":["new"]}}`},
		{`"vip" in tags`, `{"tags":"vip"}`},
		{`tags contains "vip"`, `{"tags":"vip"}`},
		{`tags == "vip"`, `{"tags":"vip"}`},
		{`name contains "a.b"`, `{"name":{"$regex":"a\\.b","$options":"i"}}`},
		{`name startsWith "Iv*"`, `{"name":{"$regex":"^Iv\\*","$options":"i"}}`},
		{`name endsWith "ov"`, `{"name":{"$regex":"ov$","$options":"i"}}`},
		{`email == " Ann@Example.com"`, `{"email":"ann@example.com"}`},
		{`phone == "8 912 345-67-89"`, `{"phone":"+79123456789"}`},
		{`owner == nil`, `{"owner":null}`},
		{`owner != nil`, `{"owner":{"$ne":null}}`},
		{`closeDate < "2026-02-01"`, `{"closeDate":{"$lt":"2026-02-01"}}`},
		{`createdAt >= "2026-01-02T03:04:05+03:00"`, `{"createdAt":{"$gte":{"$date":{"$numberLong":"1767312245000"}}}}`},
		{`updatedAt < "2026-01-02"`, `{"updatedAt":{"$lt":{"$date":{"$numberLong":"1767312000000"}}}}`},
		{`budget.amount > 1000 && budget.currency == "RUB"`, `{"$and":[{"budget.amount":{"$gt":{"$numberDouble":"1000.0"}}},{"budget.currency":"RUB"}]}`},
		{`address.city == "Moscow"`, `{"address.city":"Moscow"}`},
		{`lines.qty > 2`, `{"lines.qty":{"$gt":{"$numberLong":"2"}}}`},
		{`status == "new" and score > 1 and vip`, `{"$and":[{"status":"new"},{"score":{"$gt":{"$numberLong":"1"}}},{"vip":true}]}`},
		{`status == "new" or status == "contacted" || vip`, `{"$or":[{"status":"new"},{"status":"contacted"},{"vip":true}]}`},
		{`not (status == "new" or score > 3)`, `{"$and":[{"status":{"$ne":"new"}},{"$nor":[{"score":{"$gt":{"$numberLong":"3"}}}]}]}`},
		{`not (name contains "x")`, `{"$nor":[{"name":{"$regex":"x","$options":"i"}}]}`},
		{`not not (score > 3)`, `{"score":{"$gt":{"$numberLong":"3"}}}`},
		{`(status == "new") and (name == "A" or name == "B")`, `{"$and":[{"status":"new"},{"$or":[{"name":"A"},{"name":"B"}]}]}`},
		{`id == "abc"`, `{"_id":"abc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			d, err := ParseFilter(tt.src, fields, Rename(map[string]string{"id": "_id"}))
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got := extJSON(t, d); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	fields := testFields()
	tests := []struct {
		src    string
		line   int
		column int
		reason string
	}{
		{`nmae == "x"`, 1, 1, `unknown field "nmae"`},
		{`name == "x" and staus == "new"`, 1, 17, `unknown field "staus"`},
		{`score == "ten"`, 1, 10, "whole number"},
		{`score == 1.5`, 1, 10, "whole number"},
		{`status == "lost"`, 1, 11, `"lost" is not a value of status`},
		{`status > "new"`, 1, 8, "cannot be compared"},
		{`name matches "^a"`, 1, 6, `operator "matches" is not supported`},
		{`name == name`, 1, 9, "comparing two fields"},
		{`len(name) > 3`, 1, 11, "one side"},
		{`score + 1 > 3`, 1, 11, "one side"},
		{`name`, 1, 1, "string field"},
		{`true`, 1, 1, "constant"},
		{`budget > 5`, 1, 1, "budget.amount"},
		{`closeDate == "01.02.2026"`, 1, 14, "YYYY-MM-DD"},
		{`createdAt > "yesterday"`, 1, 13, "date and time"},
		{`name == "x" and`, 1, 0, "syntax error"},
		{`name == "x"` + "\n" + `and foo == 1`, 2, 5, `unknown field "foo"`},
		{`status in "new"`, 1, 11, "list of values"},
		{`name in tags`, 1, 1, "comparing two fields"},
		{`score in [1, "x"]`, 1, 14, "whole number"},
		{`owner < nil`, 1, 9, "nil can only"},
		{`vip > true`, 1, 5, "cannot be compared"},
		{`score contains "1"`, 1, 7, "text fields"},
		{`"абв" == имя`, 1, 10, `unknown field "имя"`},
		{`score > 9223372036854775807`, 1, 9, "out of range"},
		{`score < -9007199254740993`, 1, 9, "out of range"},
		{`score > 1e300`, 1, 9, "out of range"},
		{`rate > 1e999`, 1, 0, ""},
		{strings.Repeat("a", MaxFilterLen+1), 1, 1, "limit"},
		{strings.TrimSuffix(strings.Repeat(`score == 1 or `, 200), " or "), 1, 0, "too complex"},
	}
	for _, tt := range tests {
		t.Run(tt.src[:min(len(tt.src), 40)], func(t *testing.T) {
			_, err := ParseFilter(tt.src, fields)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("got %v, want a *query.Error", err)
			}
			if qe.Line != tt.line || (tt.column != 0 && qe.Column != tt.column) || !strings.Contains(qe.Message, tt.reason) {
				t.Fatalf("got %d:%d %q, want %d:%d containing %q", qe.Line, qe.Column, qe.Message, tt.line, tt.column, tt.reason)
			}
		})
	}
}

func TestParseSort(t *testing.T) {
	indexed := []string{"createdAt", "updatedAt", "name", "id"}
	rename := map[string]string{"id": "_id"}
	tests := []struct {
		spec    string
		want    string
		errCol  int
		errText string
	}{
		{"", `{}`, 0, ""},
		{"-createdAt,name", `{"createdAt":{"$numberInt":"-1"},"name":{"$numberInt":"1"}}`, 0, ""},
		{" +name , -id", `{"name":{"$numberInt":"1"},"_id":{"$numberInt":"-1"}}`, 0, ""},
		{"name,email", "", 6, "indexed fields only"},
		{"name,,id", "", 6, "empty item"},
		{"name,-name", "", 6, "twice"},
		{"-", "", 1, "field name"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			d, err := ParseSort(tt.spec, indexed, rename)
			if tt.errText != "" {
				var qe *Error
				if !errors.As(err, &qe) || qe.Column != tt.errCol || !strings.Contains(qe.Message, tt.errText) {
					t.Fatalf("got %v, want column %d %q", err, tt.errCol, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := bson.MarshalExtJSON(d, true, false)
			if string(b) != tt.want {
				t.Fatalf("got %s want %s", b, tt.want)
			}
		})
	}
}

func TestParseProjection(t *testing.T) {
	fields := testFields()
	d, err := ParseProjection("name, email,address.city", fields, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := extJSON(t, d); got != `{"name":{"$numberInt":"1"},"email":{"$numberInt":"1"},"address.city":{"$numberInt":"1"}}` {
		t.Fatalf("got %s", got)
	}
	if d, err := ParseProjection(" ", fields, nil); err != nil || d != nil {
		t.Fatalf("empty projection = %v, %v", d, err)
	}
	var qe *Error
	if _, err := ParseProjection("name,secret", fields, nil); !errors.As(err, &qe) || qe.Column != 6 {
		t.Fatalf("unknown field error = %v", err)
	}
}

func TestFieldsWithout(t *testing.T) {
	hidden := func(p string) bool { return p == "score" || p == "address" || strings.HasPrefix(p, "address.") }
	fields := testFields().Without(hidden)
	for _, src := range []string{`score > 2000`, `score == 1234`, `address.city == "x"`, `address == nil`} {
		_, err := ParseFilter(src, fields)
		var qe *Error
		if !errors.As(err, &qe) || !strings.Contains(qe.Message, "unknown field") {
			t.Errorf("%s: %v, want an unknown field", src, err)
		}
	}
	if _, err := ParseFilter(`name == "x"`, fields); err != nil {
		t.Errorf("a visible field: %v", err)
	}
}
