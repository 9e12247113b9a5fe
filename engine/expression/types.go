package expression

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"
)

// Kind is the coarse type of a value an expression reads or produces; the
// schema, rule and BPMN layers describe their variables with it so that one
// vocabulary is checked by one compiler.
type Kind int

// The kinds a variable or a result can have. KindAny is the zero value so a
// forgotten kind weakens type checking instead of rejecting valid input.
const (
	KindAny Kind = iota
	KindString
	KindInt
	KindFloat
	KindBool
	KindTime
	KindDuration
	KindList
	KindObject
)

// String names the kind the way analysts see it in error messages.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindTime:
		return "time"
	case KindDuration:
		return "duration"
	case KindList:
		return "list"
	case KindObject:
		return "object"
	default:
		return "any"
	}
}

// Type describes a variable: a kind, the element type of a list and the
// fields of an object (a referenced record or a nested structure), so that
// `owner.email` is checked as deeply as `email`.
type Type struct {
	Kind   Kind             `json:"kind"`
	Elem   *Type            `json:"elem,omitempty"`
	Fields map[string]*Type `json:"fields,omitempty"`
}

// Scalar returns a type of a scalar kind; it exists so callers do not spell
// composite literals for the common case.
func Scalar(k Kind) *Type { return &Type{Kind: k} }

// ListOf returns a list type whose elements have type elem (nil means any).
func ListOf(elem *Type) *Type { return &Type{Kind: KindList, Elem: elem} }

// ObjectOf returns an object type with the given fields, which are checked
// strictly: reading an undeclared field is a compile error.
func ObjectOf(fields map[string]*Type) *Type { return &Type{Kind: KindObject, Fields: fields} }

// String renders the type for messages, e.g. "list<string>".
func (t *Type) String() string {
	if t == nil {
		return "any"
	}
	switch t.Kind {
	case KindList:
		return "list<" + t.Elem.String() + ">"
	case KindObject:
		names := sortedNames(t.Fields)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + ": " + t.Fields[n].String()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return t.Kind.String()
	}
}

var (
	timeReflect     = reflect.TypeOf(time.Time{})
	durationReflect = reflect.TypeOf(time.Duration(0))
)

// exprType converts a Type into expr's type description used by the checker.
func (t *Type) exprType() types.Type {
	if t == nil {
		return types.Any
	}
	switch t.Kind {
	case KindString:
		return types.String
	case KindInt:
		return types.Int
	case KindFloat:
		return types.Float64
	case KindBool:
		return types.Bool
	case KindTime:
		return types.TypeOf(time.Time{})
	case KindDuration:
		return types.TypeOf(time.Duration(0))
	case KindList:
		return types.Array(t.Elem.exprType())
	case KindObject:
		m := make(types.Map, len(t.Fields))
		for name, ft := range t.Fields {
			m[name] = ft.exprType()
		}
		return m
	default:
		return types.Any
	}
}

// kindOfReflect maps a checked result type back to a Kind; interface types
// (unknown at compile time) map to KindAny.
func kindOfReflect(rt reflect.Type) Kind {
	if rt == nil {
		return KindAny
	}
	switch {
	case rt == timeReflect:
		return KindTime
	case rt == durationReflect:
		return KindDuration
	}
	switch rt.Kind() {
	case reflect.String:
		return KindString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return KindInt
	case reflect.Float32, reflect.Float64:
		return KindFloat
	case reflect.Bool:
		return KindBool
	case reflect.Slice, reflect.Array:
		return KindList
	case reflect.Map, reflect.Struct:
		return KindObject
	default:
		return KindAny
	}
}

// validate reports a malformed type (e.g. a field with an empty name) so
// that schema mistakes surface when the Env is built.
func (t *Type) validate(path string) error {
	if t == nil {
		return nil
	}
	if t.Kind < KindAny || t.Kind > KindObject {
		return fmt.Errorf("variable %q: unknown kind %d", path, t.Kind)
	}
	if t.Kind == KindList {
		return t.Elem.validate(path + "[]")
	}
	for _, name := range sortedNames(t.Fields) {
		if name == "" {
			return fmt.Errorf("variable %q: empty field name", path)
		}
		if err := t.Fields[name].validate(path + "." + name); err != nil {
			return err
		}
	}
	return nil
}
