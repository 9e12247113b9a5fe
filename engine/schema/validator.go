package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Mode says what a record document passed to Validate is.
type Mode int

const (
	// Create: the document is a whole new record; required fields must be
	// present and defaults are applied.
	Create Mode = iota
	// Patch: the document is an RFC 7396 merge patch; only the fields it
	// carries are checked and a null removes a (non-required) field.
	Patch
)

// DefaultRegion is the region assumed for phone numbers written without an
// international prefix, unless WithDefaultRegion says otherwise.
const DefaultRegion = "RU"

// RefResolver tells Validate which referenced records do not exist. Storage
// implements it (one query per entity), keeping this package free of I/O.
type RefResolver interface {
	// MissingRefs returns those of ids that name no live record of entity.
	MissingRefs(ctx context.Context, entity string, ids []string) ([]string, error)
}

// ValidatorOption configures a Validator.
type ValidatorOption func(*Validator)

// WithDefaultRegion sets the ISO 3166 region used to read phone numbers that
// lack a "+country" prefix (for example "RU" reads 8 912 ... as +7 912 ...).
func WithDefaultRegion(region string) ValidatorOption {
	return func(v *Validator) { v.region = strings.ToUpper(region) }
}

// Validator validates and normalises records of one entity version. It holds
// the compiled JSON Schemas and expressions, so build it once per schema
// version and keep it (see Registry); it is safe for concurrent use.
type Validator struct {
	entity Entity
	region string
	full   *jsonschema.Schema
	patch  *jsonschema.Schema
	exprs  *compiledExprs
}

// NewValidator compiles the entity's JSON Schemas (create and patch
// variants) and its expressions. The entity should already pass Check.
func NewValidator(e Entity, opts ...ValidatorOption) (*Validator, error) {
	v := &Validator{entity: e, region: DefaultRegion}
	for _, o := range opts {
		o(v)
	}
	var err error
	if v.full, err = compileSchema(e, false); err != nil {
		return nil, err
	}
	if v.patch, err = compileSchema(e, true); err != nil {
		return nil, err
	}
	if v.exprs, err = compileExprs(e); err != nil {
		return nil, err
	}
	return v, nil
}

// Entity returns the definition the validator was built from.
func (v *Validator) Entity() Entity { return v.entity }

func compileSchema(e Entity, patch bool) (*jsonschema.Schema, error) {
	doc := entitySchema(e, patch)
	// Round-trip through JSON so the compiler sees exactly what a client
	// fetching the schema would see.
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode JSON Schema of %q: %w", e.Name, err)
	}
	parsed, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("decode JSON Schema of %q: %w", e.Name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	url := "mem:///entities/" + e.Name + ".json"
	if patch {
		url = "mem:///entities/" + e.Name + ".patch.json"
	}
	if err := c.AddResource(url, parsed); err != nil {
		return nil, fmt.Errorf("add JSON Schema of %q: %w", e.Name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile JSON Schema of %q: %w", e.Name, err)
	}
	return s, nil
}

// ValidateOption adjusts one Validate call.
type ValidateOption func(*validateOpts)

type validateOpts struct {
	resolver    RefResolver
	current     map[string]any
	trusted     bool
	stripSystem bool
	now         time.Time
	lang        string
}

// WithResolver checks that every reference points to an existing record.
// Without it references are only checked for shape.
func WithResolver(r RefResolver) ValidateOption {
	return func(o *validateOpts) { o.resolver = r }
}

// WithCurrent passes the stored record a patch applies to, so computed
// fields and rules are evaluated on the merged result.
func WithCurrent(stored map[string]any) ValidateOption {
	return func(o *validateOpts) { o.current = stored }
}

// Trusted allows writing read-only fields: processes, plugins and imports
// may set what the API forbids clients to set (computed fields are still
// recomputed).
func Trusted() ValidateOption {
	return func(o *validateOpts) { o.trusted = true }
}

// IgnoreSystemFields drops system fields (id, createdAt, ...) from the input
// instead of reporting them, for re-validating stored records.
func IgnoreSystemFields() ValidateOption {
	return func(o *validateOpts) { o.stripSystem = true }
}

// At sets the time expressions see as now (workflow time inside processes).
// The default is the zero time: this package never reads the wall clock.
func At(now time.Time) ValidateOption {
	return func(o *validateOpts) { o.now = now }
}

// InLanguage picks the language ("en" or "ru") of rule messages written by
// analysts; built-in messages are English.
func InLanguage(lang string) ValidateOption {
	return func(o *validateOpts) { o.lang = lang }
}

// Check validates and normalises a record without reference lookups and
// without expressions; see Validate for the full pipeline.
func (v *Validator) Check(record map[string]any, mode Mode, opts ...ValidateOption) (map[string]any, []FieldError) {
	o := validateOpts{}
	for _, f := range opts {
		f(&o)
	}
	return v.check(record, mode, &o)
}

// Validate checks a record (Create) or a merge patch (Patch) against the
// entity and returns the normalised document to store and every problem
// found, each with an RFC 6901 pointer and a human-readable message. In Patch
// mode the result keeps nil for removed fields. The error is only for
// infrastructure failures (the resolver failing); bad data is reported in
// the []FieldError, and when it is non-empty nothing must be written.
func (v *Validator) Validate(ctx context.Context, record map[string]any, mode Mode, opts ...ValidateOption) (map[string]any, []FieldError, error) {
	o := validateOpts{}
	for _, f := range opts {
		f(&o)
	}
	out, errs := v.check(record, mode, &o)
	if mode == Patch && o.current != nil && len(errs) == 0 {
		errs = v.checkMerged(out, &o)
	}
	if o.resolver != nil {
		refErrs, err := v.checkRefs(ctx, out, o.resolver)
		if err != nil {
			return nil, nil, err
		}
		errs = append(errs, refErrs...)
	}
	if len(errs) == 0 && v.exprs != nil {
		errs = append(errs, v.exprs.apply(v, out, mode, &o)...)
	}
	sortErrors(errs)
	if len(errs) > 0 {
		return out, errs, nil
	}
	return out, nil, nil
}

// checkMerged validates the stored record with a (valid) patch applied as
// a whole record, so a patch cannot leave the record incomplete (for
// example a nested object without its required parts). Only problems under
// the fields the patch touches are reported: older problems elsewhere do not
// block an unrelated edit.
func (v *Validator) checkMerged(patch map[string]any, o *validateOpts) []FieldError {
	cur, err := plain(o.current)
	if err != nil {
		return []FieldError{{Message: fmt.Sprintf("stored record cannot be read: %v", err)}}
	}
	merged := MergePatch(cur.(map[string]any), patch)
	mo := validateOpts{trusted: true, stripSystem: true}
	_, errs := v.check(merged, Create, &mo)
	var out []FieldError
	for _, e := range errs {
		top, _, _ := strings.Cut(strings.TrimPrefix(e.Pointer, "/"), "/")
		top = strings.ReplaceAll(strings.ReplaceAll(top, "~1", "/"), "~0", "~")
		if _, touched := patch[top]; touched {
			out = append(out, e)
		}
	}
	return out
}

func sortErrors(errs []FieldError) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Pointer < errs[j].Pointer })
}

func (v *Validator) check(record map[string]any, mode Mode, o *validateOpts) (map[string]any, []FieldError) {
	n := normaliser{region: v.region, errs: map[string]string{}}
	in := make(map[string]any, len(record))
	var errs []FieldError
	add := func(ptr, msg string) {
		errs = append(errs, FieldError{Pointer: ptr, Message: msg})
		n.errs[ptr] = msg
	}
	for k, val := range record {
		p := Pointer(k)
		if IsSystemField(k) {
			if !o.stripSystem {
				add(p, "is maintained by Rapport and cannot be set")
			}
			continue
		}
		f := v.entity.Field(k)
		if f != nil && (f.Computed != "" || f.ReadOnly) && !o.trusted {
			if f.Computed != "" {
				add(p, "is computed by Rapport and cannot be set")
			} else {
				add(p, "is read-only")
			}
			continue
		}
		pv, err := plain(val)
		if err != nil {
			add(p, err.Error())
			continue
		}
		in[k] = pv
	}
	// Nulls: a removal in a patch, an absent value in a create.
	removed := map[string]bool{}
	for k, val := range in {
		if val != nil {
			continue
		}
		delete(in, k)
		f := v.entity.Field(k)
		if f == nil {
			add(Pointer(k), fmt.Sprintf("is not a field of the %s", v.entity.Name))
			continue
		}
		if f.Required {
			add(Pointer(k), "is required")
			continue
		}
		if mode == Patch {
			removed[k] = true
		}
	}
	if mode == Create {
		for i := range v.entity.Fields {
			f := &v.entity.Fields[i]
			if _, ok := in[f.Name]; !ok && f.Default != nil && f.Computed == "" {
				in[f.Name] = deepCopy(f.Default)
			}
		}
	}
	for k, val := range in {
		if f := v.entity.Field(k); f != nil {
			in[k] = n.value(Pointer(k), f, val, mode)
		}
	}
	for ptr, msg := range n.errs {
		if _, seen := findErr(errs, ptr); !seen {
			errs = append(errs, FieldError{Pointer: ptr, Message: msg})
		}
	}
	schema := v.full
	if mode == Patch {
		schema = v.patch
	}
	if err := schema.Validate(stripNulls(in)); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			for _, fe := range v.translate(ve) {
				if _, seen := n.errs[fe.Pointer]; seen {
					continue
				}
				if _, seen := findErr(errs, fe.Pointer); seen {
					continue
				}
				errs = append(errs, fe)
			}
		} else {
			errs = append(errs, FieldError{Message: err.Error()})
		}
	}
	sortErrors(errs)
	out := n.finish(v, in, mode)
	for k := range removed {
		out[k] = nil
	}
	return out, errs
}

func findErr(errs []FieldError, ptr string) (int, bool) {
	for i, e := range errs {
		if e.Pointer == ptr {
			return i, true
		}
	}
	return -1, false
}

// stripNulls returns a copy of v without null members of objects (merge
// patch removals), which the JSON Schema would otherwise reject.
func stripNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if val == nil {
				continue
			}
			out[k] = stripNulls(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = stripNulls(x[i])
		}
		return out
	}
	return v
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = deepCopy(x[i])
		}
		return out
	}
	return v
}

// checkRefs collects reference values and asks the resolver which are
// missing, one call per target entity.
func (v *Validator) checkRefs(ctx context.Context, rec map[string]any, r RefResolver) ([]FieldError, error) {
	type use struct{ ptr, id string }
	byEntity := map[string][]use{}
	var walk func(ptr string, f *Field, val any)
	walk = func(ptr string, f *Field, val any) {
		switch f.Type {
		case TypeReference:
			if s, ok := val.(string); ok && s != "" {
				byEntity[f.Ref] = append(byEntity[f.Ref], use{ptr, s})
			}
		case TypeList:
			if arr, ok := val.([]any); ok && f.Item != nil {
				for i, it := range arr {
					walk(fmt.Sprintf("%s/%d", ptr, i), f.Item, it)
				}
			}
		case TypeObject:
			if m, ok := val.(map[string]any); ok {
				for i := range f.Fields {
					sf := &f.Fields[i]
					if sv, ok := m[sf.Name]; ok {
						walk(ptr+"/"+pointerToken(sf.Name), sf, sv)
					}
				}
			}
		}
	}
	for i := range v.entity.Fields {
		f := &v.entity.Fields[i]
		if val, ok := rec[f.Name]; ok {
			walk(Pointer(f.Name), f, val)
		}
	}
	entities := make([]string, 0, len(byEntity))
	for e := range byEntity {
		entities = append(entities, e)
	}
	sort.Strings(entities)
	var errs []FieldError
	for _, ent := range entities {
		uses := byEntity[ent]
		seen := map[string]bool{}
		var ids []string
		for _, u := range uses {
			if !seen[u.id] {
				seen[u.id] = true
				ids = append(ids, u.id)
			}
		}
		missing, err := r.MissingRefs(ctx, ent, ids)
		if err != nil {
			return nil, fmt.Errorf("check references to %s: %w", ent, err)
		}
		gone := map[string]bool{}
		for _, m := range missing {
			gone[m] = true
		}
		for _, u := range uses {
			if gone[u.id] {
				errs = append(errs, FieldError{Pointer: u.ptr, Message: fmt.Sprintf("refers to a %s record %q that does not exist", ent, u.id)})
			}
		}
	}
	return errs, nil
}

// DedupeKey is one dedupe key of a record with its normalised values; a
// stored record having any of Values in Field is a duplicate.
type DedupeKey struct {
	Field  string
	Values []any
}

// DedupeKeys returns the dedupe keys present in a normalised record (the
// output of Validate), so storage can look for an existing duplicate.
func (v *Validator) DedupeKeys(rec map[string]any) []DedupeKey {
	var out []DedupeKey
	for _, k := range v.entity.DedupeKeys {
		val, ok := rec[k]
		if !ok || val == nil {
			continue
		}
		var vals []any
		if arr, isArr := val.([]any); isArr {
			for _, it := range arr {
				if it != nil && it != "" {
					vals = append(vals, it)
				}
			}
		} else if val != "" {
			vals = []any{val}
		}
		if len(vals) > 0 {
			out = append(out, DedupeKey{Field: k, Values: vals})
		}
	}
	return out
}
