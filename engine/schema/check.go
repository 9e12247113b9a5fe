package schema

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FieldError is one problem found in a record or a definition, located by
// an RFC 6901 JSON pointer so clients can show it next to the right input.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Error formats the problem as "pointer: message".
func (e FieldError) Error() string {
	if e.Pointer == "" {
		return e.Message
	}
	return e.Pointer + ": " + e.Message
}

// DefinitionError lists every problem in an entity definition, so an analyst
// fixes them all in one round instead of one per save.
type DefinitionError struct {
	Entity   string
	Problems []FieldError
}

// Error summarises the problems in one line each.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "entity %q: %d problem(s)", e.Entity, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p.Error())
	}
	return b.String()
}

var (
	namePattern   = regexp.MustCompile(`^[a-z][a-zA-Z0-9]{0,63}$`)
	currencyRegex = regexp.MustCompile(`^[A-Z]{3}$`)
)

// pointerToken escapes one reference token per RFC 6901.
func pointerToken(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// Pointer builds an RFC 6901 pointer from unescaped tokens.
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(pointerToken(t))
	}
	return b.String()
}

// Check validates an entity definition itself and returns a *DefinitionError
// listing every problem, or nil. known lists the entity names a reference may
// point to (the entity itself, "user" and "team" are always allowed).
// Expressions (computed fields and rules) are checked separately by
// CheckExpressions because they need the compiled environment.
func Check(e Entity, known []string) error {
	c := checker{known: map[string]bool{e.Name: true, RefUser: true, RefTeam: true}}
	for _, k := range known {
		c.known[k] = true
	}
	if !namePattern.MatchString(e.Name) {
		c.add("/name", "entity name must start with a lower-case letter and contain only letters and digits (at most 64)")
	}
	if e.Label.IsZero() {
		c.add("/label", "entity needs a label")
	}
	if len(e.Fields) == 0 {
		c.add("/fields", "entity needs at least one field")
	}
	c.fields("/fields", e.Fields, true)
	for i, k := range e.DedupeKeys {
		f := e.Field(k)
		p := Pointer("dedupeKeys", strconv.Itoa(i))
		switch {
		case f == nil:
			c.add(p, fmt.Sprintf("dedupe key %q is not a field of the entity", k))
		case !dedupeable(f):
			c.add(p, fmt.Sprintf("dedupe key %q must be a string, email, phone or a list of those", k))
		}
	}
	if len(c.problems) == 0 {
		// Expressions are type-checked against the fields, so only once the
		// fields themselves are sound.
		if _, err := compileExprs(e); err != nil {
			var de *DefinitionError
			if errors.As(err, &de) {
				return de
			}
			return err
		}
		return nil
	}
	return &DefinitionError{Entity: e.Name, Problems: c.problems}
}

func dedupeable(f *Field) bool {
	t := f.Type
	if t == TypeList && f.Item != nil {
		t = f.Item.Type
	}
	switch t {
	case TypeString, TypeEmail, TypePhone, TypeInteger, TypeReference:
		return true
	}
	return false
}

type checker struct {
	known    map[string]bool
	problems []FieldError
}

func (c *checker) add(ptr, msg string) {
	c.problems = append(c.problems, FieldError{Pointer: ptr, Message: msg})
}

func (c *checker) fields(base string, fields []Field, top bool) {
	seen := map[string]int{}
	for i := range fields {
		f := &fields[i]
		p := base + "/" + strconv.Itoa(i)
		switch {
		case f.Name == "":
			c.add(p+"/name", "field needs a name")
		case top && IsSystemField(f.Name):
			c.add(p+"/name", fmt.Sprintf("%q is a system field maintained by Rapport and cannot be declared", f.Name))
		case !namePattern.MatchString(f.Name):
			c.add(p+"/name", "field name must start with a lower-case letter and contain only letters and digits (at most 64)")
		}
		if j, dup := seen[f.Name]; dup && f.Name != "" {
			c.add(p+"/name", fmt.Sprintf("field name %q is already used by field %d", f.Name, j))
		}
		seen[f.Name] = i
		c.field(p, f, top)
	}
}

// field checks one field; top says whether it sits at the top level, where
// unique, computed and rules are allowed.
func (c *checker) field(p string, f *Field, top bool) {
	if !f.Type.Known() {
		c.add(p+"/type", fmt.Sprintf("unknown field type %q", f.Type))
		return
	}
	isString := f.Type == TypeString || f.Type == TypeText
	isNumber := f.Type == TypeInteger || f.Type == TypeDecimal || f.Type == TypeMoney
	if (f.MinLength != nil || f.MaxLength != nil) && !isString && f.Type != TypeList {
		c.add(p+"/maxLength", fmt.Sprintf("length limits apply to string, text and list fields, not %s", f.Type))
	}
	if f.MinLength != nil && *f.MinLength < 0 {
		c.add(p+"/minLength", "minLength cannot be negative")
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		c.add(p+"/minLength", "minLength is greater than maxLength")
	}
	if (f.Min != nil || f.Max != nil) && !isNumber {
		c.add(p+"/min", fmt.Sprintf("min and max apply to integer, decimal and money fields, not %s", f.Type))
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		c.add(p+"/min", "min is greater than max")
	}
	if f.Pattern != "" {
		if !isString {
			c.add(p+"/pattern", fmt.Sprintf("pattern applies to string and text fields, not %s", f.Type))
		} else if _, err := regexp.Compile(f.Pattern); err != nil {
			c.add(p+"/pattern", fmt.Sprintf("invalid regular expression: %v", err))
		}
	}
	if f.Type == TypeEnum {
		if len(f.Options) == 0 {
			c.add(p+"/options", "an enum field needs at least one option")
		}
		seen := map[string]bool{}
		for i, o := range f.Options {
			op := p + "/options/" + strconv.Itoa(i)
			if o.Value == "" {
				c.add(op+"/value", "option needs a value")
			}
			if seen[o.Value] {
				c.add(op+"/value", fmt.Sprintf("option value %q is repeated", o.Value))
			}
			seen[o.Value] = true
		}
	} else if len(f.Options) > 0 {
		c.add(p+"/options", fmt.Sprintf("options apply to enum fields, not %s", f.Type))
	}
	if f.Type == TypeReference {
		if f.Ref == "" {
			c.add(p+"/ref", "a reference field must name the entity it points to")
		} else if !c.known[f.Ref] {
			c.add(p+"/ref", fmt.Sprintf("reference to unknown entity %q", f.Ref))
		}
	} else if f.Ref != "" {
		c.add(p+"/ref", fmt.Sprintf("ref applies to reference fields, not %s", f.Type))
	}
	if f.Type == TypeList {
		switch {
		case f.Item == nil:
			c.add(p+"/item", "a list field must describe its item")
		case f.Item.Type == TypeList:
			c.add(p+"/item/type", "lists of lists are not supported; use a list of objects")
		default:
			if f.Item.Required || f.Item.Unique || f.Item.Computed != "" || len(f.Item.Rules) > 0 || f.Item.Default != nil {
				c.add(p+"/item", "a list item cannot be required, unique, computed, have a default or rules; set them on the list")
			}
			c.field(p+"/item", f.Item, false)
		}
	} else if f.Item != nil {
		c.add(p+"/item", fmt.Sprintf("item applies to list fields, not %s", f.Type))
	}
	if f.Type == TypeObject {
		if len(f.Fields) == 0 {
			c.add(p+"/fields", "an object field needs at least one nested field")
		}
		c.fields(p+"/fields", f.Fields, false)
	} else if len(f.Fields) > 0 {
		c.add(p+"/fields", fmt.Sprintf("nested fields apply to object fields, not %s", f.Type))
	}
	if !top {
		if f.Unique {
			c.add(p+"/unique", "only top-level fields can be unique")
		}
		if f.Computed != "" {
			c.add(p+"/computed", "only top-level fields can be computed")
		}
		if len(f.Rules) > 0 {
			c.add(p+"/rules", "rules are set on top-level fields")
		}
	}
	if f.Unique && (f.Type == TypeList || f.Type == TypeObject || f.Type == TypeMoney || f.Type == TypeText) {
		c.add(p+"/unique", fmt.Sprintf("a %s field cannot be unique", f.Type))
	}
	switch {
	case f.Merge == "":
	case f.Merge != MergeSum && f.Merge != MergeLatest:
		c.add(p+"/merge", fmt.Sprintf("unknown merge %q: it is %q (add the duplicate's value) or %q (keep the value set last)", f.Merge, MergeSum, MergeLatest))
	case f.Merge == MergeSum && !isNumber:
		c.add(p+"/merge", fmt.Sprintf("merge %q adds numbers: it applies to integer, decimal and money fields, not %s", MergeSum, f.Type))
	case f.Computed != "":
		c.add(p+"/merge", "a computed field is recomputed after a merge, not merged")
	}
	if f.Computed != "" && f.Required {
		c.add(p+"/required", "a computed field is always set by Rapport and cannot also be required input")
	}
	for i, r := range f.Rules {
		if strings.TrimSpace(r.Expr) == "" {
			c.add(p+"/rules/"+strconv.Itoa(i)+"/expr", "rule needs an expression")
		}
		if r.Message.IsZero() {
			c.add(p+"/rules/"+strconv.Itoa(i)+"/message", "rule needs a message shown when it fails")
		}
	}
	if f.Default != nil {
		if msg := defaultProblem(f); msg != "" {
			c.add(p+"/default", msg)
		}
	}
}

// defaultProblem checks that a default value fits its field, using the same
// normalisation and JSON Schema rules as records.
func defaultProblem(f *Field) string {
	d := *f
	d.Name, d.Default, d.Required, d.Unique, d.ReadOnly, d.Computed, d.Rules = "v", nil, false, false, false, "", nil
	e := Entity{Name: "default", Label: Label{En: "default"}, Fields: []Field{d}}
	v, err := NewValidator(e)
	if err != nil {
		return fmt.Sprintf("cannot check default: %v", err)
	}
	_, errs := v.Check(map[string]any{"v": f.Default}, Create)
	if len(errs) > 0 {
		return "default value is invalid: " + errs[0].Message
	}
	return ""
}
