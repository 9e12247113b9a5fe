package schema

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// translate flattens a JSON Schema validation error tree into one
// FieldError per problem, worded for the people filling in forms rather
// than for schema authors.
func (v *Validator) translate(root *jsonschema.ValidationError) []FieldError {
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, v.message(e)...)
	}
	walk(root)
	return out
}

func (v *Validator) message(e *jsonschema.ValidationError) []FieldError {
	ptr := Pointer(e.InstanceLocation...)
	f := v.fieldAt(e.InstanceLocation)
	one := func(msg string) []FieldError { return []FieldError{{Pointer: ptr, Message: msg}} }
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		var out []FieldError
		for _, m := range k.Missing {
			out = append(out, FieldError{Pointer: ptr + "/" + pointerToken(m), Message: "is required"})
		}
		return out
	case *kind.AdditionalProperties:
		var out []FieldError
		where := "the " + v.entity.Name
		if len(e.InstanceLocation) > 0 {
			where = "this object"
		}
		for _, p := range k.Properties {
			out = append(out, FieldError{Pointer: ptr + "/" + pointerToken(p), Message: fmt.Sprintf("is not a field of %s", where)})
		}
		return out
	case *kind.Type:
		return one("must be " + typeNoun(f, k.Want))
	case *kind.MinLength:
		if k.Want == 1 {
			return one("must not be empty")
		}
		return one(fmt.Sprintf("must be at least %d characters long (it has %d)", k.Want, k.Got))
	case *kind.MaxLength:
		return one(fmt.Sprintf("must be at most %d characters long (it has %d)", k.Want, k.Got))
	case *kind.MinItems:
		return one(fmt.Sprintf("must have at least %d item(s) (it has %d)", k.Want, k.Got))
	case *kind.MaxItems:
		return one(fmt.Sprintf("must have at most %d item(s) (it has %d)", k.Want, k.Got))
	case *kind.Pattern:
		if f != nil && f.Type == TypePhone {
			return one("is not a valid phone number")
		}
		if len(e.InstanceLocation) > 0 && e.InstanceLocation[len(e.InstanceLocation)-1] == "currency" {
			return one("must be a three-letter ISO 4217 currency code such as RUB or USD")
		}
		return one(fmt.Sprintf("does not match the required format %s", k.Want))
	case *kind.Minimum:
		return one("must be at least " + ratString(k.Want))
	case *kind.Maximum:
		return one("must be at most " + ratString(k.Want))
	case *kind.Enum:
		var vals []string
		for _, w := range k.Want {
			vals = append(vals, fmt.Sprint(w))
		}
		return one("must be one of: " + strings.Join(vals, ", "))
	case *kind.Format:
		switch k.Want {
		case "email":
			return one("is not a valid email address")
		case "date":
			return one("must be a date written as YYYY-MM-DD")
		case "date-time":
			return one("must be a date and time in RFC 3339 form, for example 2026-01-31T09:30:00Z")
		case "uri":
			return one("is not a valid URL")
		}
		return one(fmt.Sprintf("is not a valid %s", k.Want))
	}
	return one(e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmt.Sprint(f)
}

// typeNoun names what a field's value must be, for type mismatch messages.
func typeNoun(f *Field, want []string) string {
	if f == nil {
		return strings.Join(want, " or ")
	}
	switch f.Type {
	case TypeString, TypeText:
		return "a string"
	case TypeInteger:
		return "a whole number"
	case TypeDecimal:
		return "a number"
	case TypeMoney:
		return `an object with "amount" and "currency"`
	case TypeBoolean:
		return "true or false"
	case TypeDate:
		return "a date written as YYYY-MM-DD"
	case TypeDateTime:
		return "a date and time in RFC 3339 form"
	case TypeEnum:
		vals := make([]string, len(f.Options))
		for i, o := range f.Options {
			vals[i] = o.Value
		}
		return "one of: " + strings.Join(vals, ", ")
	case TypeEmail:
		return "an email address (a string)"
	case TypePhone:
		return "a phone number (a string)"
	case TypeURL:
		return "a URL (a string)"
	case TypeReference:
		return "the ID of a " + f.Ref + " record (a string)"
	case TypeList:
		return "a list"
	case TypeObject:
		return "an object"
	}
	return strings.Join(want, " or ")
}

var moneyFields = []Field{
	{Name: "amount", Type: TypeDecimal},
	{Name: "currency", Type: TypeString},
}

// fieldAt finds the field definition describing the value at the given
// instance location, or nil when the location is not part of the entity.
func (v *Validator) fieldAt(loc []string) *Field {
	if len(loc) == 0 {
		return nil
	}
	fields := append(append([]Field{}, systemFields...), v.entity.Fields...)
	var cur *Field
	for i := 0; i < len(loc); i++ {
		if cur != nil && cur.Type == TypeList {
			cur = cur.Item
			if cur == nil {
				return nil
			}
			continue
		}
		if cur != nil {
			switch cur.Type {
			case TypeObject:
				fields = cur.Fields
			case TypeMoney:
				fields = moneyFields
			default:
				return nil
			}
		}
		var next *Field
		for j := range fields {
			if fields[j].Name == loc[i] {
				next = &fields[j]
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}
