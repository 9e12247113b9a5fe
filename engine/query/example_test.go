package query_test

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/query"
	"github.com/rapportcrm/rapport/engine/schema"
)

func ExampleParseFilter() {
	entities, err := schema.Builtin()
	if err != nil {
		panic(err)
	}
	var lead schema.Entity
	for _, e := range entities {
		if e.Name == "lead" {
			lead = e
		}
	}
	fields := query.FieldsOf(lead)
	filter, err := query.ParseFilter(`status in ["new", "contacted"] and budget.amount >= 1000 and not (name startsWith "test")`, fields)
	if err != nil {
		panic(err)
	}
	out, _ := bson.MarshalExtJSON(filter, false, false)
	fmt.Println(string(out))

	_, err = query.ParseFilter(`status == "won"`, fields)
	fmt.Println(err)
	// Output:
	// {"$and":[{"status":{"$in":["new","contacted"]}},{"budget.amount":{"$gte":1000.0}},{"$nor":[{"name":{"$regex":"^test","$options":"i"}}]}]}
	// column 11: "won" is not a value of status (one of: new, contacted, qualified, disqualified, converted)
}
