package schema

import (
	"context"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"sort"
)

// ChangeKind classifies one difference between two versions of an entity.
type ChangeKind string

// The kinds of change Compare reports.
const (
	FieldAdded          ChangeKind = "fieldAdded"
	FieldRemoved        ChangeKind = "fieldRemoved"
	TypeChanged         ChangeKind = "typeChanged"
	RequiredAdded       ChangeKind = "requiredAdded"
	RequiredRemoved     ChangeKind = "requiredRemoved"
	ConstraintTightened ChangeKind = "constraintTightened"
	ConstraintRelaxed   ChangeKind = "constraintRelaxed"
	OptionRemoved       ChangeKind = "optionRemoved"
	OptionAdded         ChangeKind = "optionAdded"
	RefChanged          ChangeKind = "refChanged"
	RuleAdded           ChangeKind = "ruleAdded"
	RuleRemoved         ChangeKind = "ruleRemoved"
	UniqueAdded         ChangeKind = "uniqueAdded"
	ComputedChanged     ChangeKind = "computedChanged"
	PresentationChanged ChangeKind = "presentationChanged"
	MergeChanged        ChangeKind = "mergeChanged"
	DedupeKeysChanged   ChangeKind = "dedupeKeysChanged"
)

// Change is one difference between two versions of an entity. Breaking is
// true when records valid under the old version could violate the new one;
// such a change must be refused unless a dry run shows no record violates it.
type Change struct {
	Field    string     `json:"field,omitempty"` // dotted path, "" for the entity
	Kind     ChangeKind `json:"kind"`
	Message  string     `json:"message"`
	Breaking bool       `json:"breaking"`
}

// Compare lists the changes from old to new in a stable order (by field
// path, then kind), so the admin UI can explain a schema edit and the API
// can refuse breaking ones.
func Compare(old, new Entity) []Change {
	var out []Change
	compareFields("", old.Fields, new.Fields, &out)
	if !slices.Equal(old.DedupeKeys, new.DedupeKeys) {
		out = append(out, Change{Kind: DedupeKeysChanged, Message: fmt.Sprintf("dedupe keys changed from %v to %v", old.DedupeKeys, new.DedupeKeys)})
	}
	if old.Label != new.Label || old.Description != new.Description {
		out = append(out, Change{Kind: PresentationChanged, Message: "entity label or description changed"})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Breaking returns the breaking changes among changes.
func Breaking(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

func compareFields(prefix string, old, new []Field, out *[]Change) {
	oldBy := map[string]*Field{}
	for i := range old {
		oldBy[old[i].Name] = &old[i]
	}
	newBy := map[string]bool{}
	for i := range new {
		nf := &new[i]
		newBy[nf.Name] = true
		path := prefix + nf.Name
		of, ok := oldBy[nf.Name]
		if !ok {
			breaking := nf.Required && nf.Default == nil && nf.Computed == ""
			msg := fmt.Sprintf("new field %s", path)
			if breaking {
				msg += " is required and has no default: existing records do not have it"
			}
			*out = append(*out, Change{Field: path, Kind: FieldAdded, Message: msg, Breaking: breaking})
			continue
		}
		compareField(path, of, nf, out)
	}
	for i := range old {
		if !newBy[old[i].Name] {
			path := prefix + old[i].Name
			*out = append(*out, Change{Field: path, Kind: FieldRemoved, Breaking: true,
				Message: fmt.Sprintf("field %s is removed: records holding a value for it no longer validate until the value is removed", path)})
		}
	}
}

// widening lists type changes every old value survives unchanged.
var widening = map[[2]Type]bool{
	{TypeInteger, TypeDecimal}: true, {TypeString, TypeText}: true, {TypeText, TypeString}: true,
	{TypeEnum, TypeString}: true, {TypeEnum, TypeText}: true, {TypeEmail, TypeString}: true,
	{TypePhone, TypeString}: true, {TypeURL, TypeString}: true, {TypeReference, TypeString}: true,
	{TypeDate, TypeString}: true,
}

func compareField(path string, of, nf *Field, out *[]Change) {
	add := func(kind ChangeKind, breaking bool, format string, args ...any) {
		*out = append(*out, Change{Field: path, Kind: kind, Breaking: breaking, Message: fmt.Sprintf(format, args...)})
	}
	if of.Type != nf.Type {
		w := widening[[2]Type{of.Type, nf.Type}]
		add(TypeChanged, !w, "%s changes type from %s to %s", path, of.Type, nf.Type)
		return
	}
	if !of.Required && nf.Required {
		add(RequiredAdded, nf.Default == nil && nf.Computed == "", "%s becomes required", path)
	} else if of.Required && !nf.Required {
		add(RequiredRemoved, false, "%s is no longer required", path)
	}
	tighterMin := func(o, n *float64) bool { return n != nil && (o == nil || *n > *o) }
	tighterMax := func(o, n *float64) bool { return n != nil && (o == nil || *n < *o) }
	tighterMinI := func(o, n *int) bool { return n != nil && (o == nil || *n > *o) }
	tighterMaxI := func(o, n *int) bool { return n != nil && (o == nil || *n < *o) }
	looser := func(o, n any) bool { return !reflect.DeepEqual(o, n) }
	switch {
	case tighterMin(of.Min, nf.Min):
		add(ConstraintTightened, true, "%s minimum rises to %v", path, *nf.Min)
	case looser(of.Min, nf.Min):
		add(ConstraintRelaxed, false, "%s minimum relaxed", path)
	}
	switch {
	case tighterMax(of.Max, nf.Max):
		add(ConstraintTightened, true, "%s maximum falls to %v", path, *nf.Max)
	case looser(of.Max, nf.Max):
		add(ConstraintRelaxed, false, "%s maximum relaxed", path)
	}
	switch {
	case tighterMinI(of.MinLength, nf.MinLength):
		add(ConstraintTightened, true, "%s minimum length rises to %d", path, *nf.MinLength)
	case looser(of.MinLength, nf.MinLength):
		add(ConstraintRelaxed, false, "%s minimum length relaxed", path)
	}
	switch {
	case tighterMaxI(of.MaxLength, nf.MaxLength):
		add(ConstraintTightened, true, "%s maximum length falls to %d", path, *nf.MaxLength)
	case looser(of.MaxLength, nf.MaxLength):
		add(ConstraintRelaxed, false, "%s maximum length relaxed", path)
	}
	if of.Pattern != nf.Pattern {
		if nf.Pattern == "" {
			add(ConstraintRelaxed, false, "%s pattern removed", path)
		} else {
			add(ConstraintTightened, true, "%s pattern changes to %s", path, nf.Pattern)
		}
	}
	newOpts := map[string]bool{}
	for _, o := range nf.Options {
		newOpts[o.Value] = true
	}
	oldOpts := map[string]bool{}
	for _, o := range of.Options {
		oldOpts[o.Value] = true
		if !newOpts[o.Value] {
			add(OptionRemoved, true, "%s option %q is removed", path, o.Value)
		}
	}
	for _, o := range nf.Options {
		if !oldOpts[o.Value] {
			add(OptionAdded, false, "%s gains option %q", path, o.Value)
		}
	}
	if of.Ref != nf.Ref {
		add(RefChanged, true, "%s now refers to %s instead of %s", path, nf.Ref, of.Ref)
	}
	oldRules := map[string]bool{}
	for _, r := range of.Rules {
		oldRules[r.Expr] = true
	}
	newRules := map[string]bool{}
	for _, r := range nf.Rules {
		newRules[r.Expr] = true
		if !oldRules[r.Expr] {
			add(RuleAdded, true, "%s gains rule %s", path, r.Expr)
		}
	}
	for _, r := range of.Rules {
		if !newRules[r.Expr] {
			add(RuleRemoved, false, "%s loses rule %s", path, r.Expr)
		}
	}
	if !of.Unique && nf.Unique {
		add(UniqueAdded, true, "%s becomes unique: existing duplicates make the unique index fail to build", path)
	}
	if of.Computed != nf.Computed {
		add(ComputedChanged, false, "%s computation changes; stored values are recomputed on the next write", path)
	}
	if of.Label != nf.Label || of.Description != nf.Description || of.ReadOnly != nf.ReadOnly ||
		!reflect.DeepEqual(of.Default, nf.Default) || of.Indexed != nf.Indexed {
		add(PresentationChanged, false, "%s label, description, default, read-only or index flag changed", path)
	}
	switch {
	case of.Merge == nf.Merge:
	case nf.Merge == MergeSum:
		add(MergeChanged, false, "%s is added up when duplicates are merged", path)
	case nf.Merge == MergeLatest:
		add(MergeChanged, false, "%s keeps the value set last when duplicates are merged", path)
	case of.Merge == MergeSum:
		add(MergeChanged, false, "%s is no longer added up when duplicates are merged", path)
	default:
		add(MergeChanged, false, "%s no longer keeps the value set last when duplicates are merged", path)
	}
	if of.Item != nil && nf.Item != nil {
		compareField(path+"[]", of.Item, nf.Item, out)
	}
	if of.Type == TypeObject {
		compareFields(path+".", of.Fields, nf.Fields, out)
	}
}

// Violation is one stored record that fails a (new) schema version.
type Violation struct {
	ID     any          `json:"id"`
	Errors []FieldError `json:"errors"`
}

// DryRun summarises how existing records fare under a schema version.
type DryRun struct {
	Checked   int         `json:"checked"`
	Violating int         `json:"violating"`
	Examples  []Violation `json:"examples"`
}

// CountViolations validates every record the iterator yields against v (as
// stored data: system fields ignored, read-only fields allowed, references
// not looked up) and counts those that fail, keeping up to maxExamples of
// them. It stops at the first iterator error or when ctx is done.
func CountViolations(ctx context.Context, v *Validator, records iter.Seq2[map[string]any, error], maxExamples int) (DryRun, error) {
	var d DryRun
	for rec, err := range records {
		if err != nil {
			return d, fmt.Errorf("read records for dry run: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return d, fmt.Errorf("dry run stopped after %d records: %w", d.Checked, err)
		}
		d.Checked++
		_, errs, err := v.Validate(ctx, rec, Create, Trusted(), IgnoreSystemFields())
		if err != nil {
			return d, fmt.Errorf("dry run: %w", err)
		}
		if len(errs) == 0 {
			continue
		}
		d.Violating++
		if len(d.Examples) < maxExamples {
			id := rec[SysID]
			if id == nil {
				id = rec["_id"]
			}
			d.Examples = append(d.Examples, Violation{ID: id, Errors: errs})
		}
	}
	return d, nil
}
