package schema_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rapportcrm/rapport/engine/schema"
)

func ExampleValidator_Validate() {
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
	v, err := schema.NewValidator(lead)
	if err != nil {
		panic(err)
	}
	var rec map[string]any
	_ = json.Unmarshal([]byte(`{"source":"fax","name":"","email":"ivan@","phone":"12",
		"budget":{"amount":"lots"},"status":"new","score":5,"colour":"red"}`), &rec)
	_, problems, err := v.Validate(context.Background(), rec, schema.Create)
	if err != nil {
		panic(err)
	}
	for _, p := range problems {
		fmt.Printf("%s: %s\n", p.Pointer, p.Message)
	}
	// Output:
	// /budget/amount: must be a number
	// /budget/currency: is required
	// /colour: is not a field of the lead
	// /email: is not a valid email address
	// /name: must not be empty
	// /phone: is not a valid phone number
	// /score: is read-only
	// /source: must be one of: webForm, import, api, call, event, partner, referral, erp, other
}
