package bpmn

import (
	"encoding/json"
	"fmt"
)

// embeddedFormPrefix is how Camunda Modeler 5 (Camunda 8.0–8.2) references a form embedded in the
// process as zeebe:userTaskForm.
const embeddedFormPrefix = "camunda-forms:bpmn:"

// formComponent is the part of a Camunda Forms component that decides a submitted value's name and type.
type formComponent struct {
	Key        string                  `json:"key"`
	Type       string                  `json:"type"`
	Label      string                  `json:"label"`
	Validate   struct{ Required bool } `json:"validate"`
	Components []formComponent         `json:"components"`
}

// camundaFormFields derives typed form fields from Camunda Forms JSON, so user tasks designed in Camunda
// Modeler get their completions validated without repeating the fields as rapport:formFields.
func camundaFormFields(schema string) ([]FormField, error) {
	var root struct {
		Components []formComponent `json:"components"`
	}
	if err := json.Unmarshal([]byte(schema), &root); err != nil {
		return nil, fmt.Errorf("form schema is not valid JSON: %w", err)
	}
	var out []FormField
	var walk func([]formComponent, int) error
	walk = func(cs []formComponent, depth int) error {
		if depth > 16 {
			return fmt.Errorf("form components are nested deeper than 16 levels")
		}
		for _, c := range cs {
			if c.Type == "group" {
				if err := walk(c.Components, depth+1); err != nil {
					return err
				}
				continue
			}
			t := formFieldType(c.Type)
			if c.Key == "" || t == "" {
				continue
			}
			out = append(out, FormField{Name: c.Key, Type: t, Label: c.Label, Required: c.Validate.Required})
		}
		return nil
	}
	err := walk(root.Components, 0)
	return out, err
}

// formFieldType maps a Camunda Forms component type to a variable type; display-only components map to "".
func formFieldType(t string) string {
	switch t {
	case "textfield", "textarea", "radio", "select":
		return "string"
	case "number":
		return "float"
	case "checkbox":
		return "bool"
	case "datetime":
		return "time"
	case "checklist", "taglist", "dynamiclist":
		return "list"
	}
	return ""
}
