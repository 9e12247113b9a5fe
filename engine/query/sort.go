package query

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ParseSort parses a sort spec such as "-createdAt,name" (a leading "-"
// sorts descending, "+" or nothing ascending) into a MongoDB sort document.
// Only the paths in indexed may be used, so every list query can be served
// by an index; rename maps paths to stored names as in Rename.
func ParseSort(spec string, indexed []string, rename map[string]string) (bson.D, error) {
	allowed := map[string]bool{}
	for _, f := range indexed {
		allowed[f] = true
	}
	out := bson.D{}
	seen := map[string]bool{}
	err := eachItem(spec, func(item string, at int) error {
		dir := 1
		name := item
		switch {
		case strings.HasPrefix(item, "-"):
			dir, name = -1, item[1:]
		case strings.HasPrefix(item, "+"):
			name = item[1:]
		}
		if name == "" {
			return errorAt(spec, at, "expected a field name after %q", item)
		}
		if !allowed[name] {
			return errorAt(spec, at, "cannot sort by %q: sorting is allowed on indexed fields only (%s)", name, strings.Join(indexed, ", "))
		}
		if seen[name] {
			return errorAt(spec, at, "%q is listed twice", name)
		}
		seen[name] = true
		if r, ok := rename[name]; ok {
			name = r
		}
		out = append(out, bson.E{Key: name, Value: dir})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseProjection parses a comma-separated list of paths ("name,email")
// into a MongoDB projection including only them; an empty spec means the
// whole record (nil).
func ParseProjection(spec string, fields Fields, rename map[string]string) (bson.D, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	out := bson.D{}
	seen := map[string]bool{}
	err := eachItem(spec, func(name string, at int) error {
		if _, ok := fields[name]; !ok {
			return errorAt(spec, at, "unknown field %q", name)
		}
		if seen[name] {
			return errorAt(spec, at, "%q is listed twice", name)
		}
		seen[name] = true
		if r, ok := rename[name]; ok {
			name = r
		}
		out = append(out, bson.E{Key: name, Value: 1})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachItem calls fn for every trimmed, comma-separated item of spec with the
// rune offset where the item starts; empty items are errors.
func eachItem(spec string, fn func(item string, at int) error) error {
	if strings.TrimSpace(spec) == "" {
		return nil
	}
	runeAt := 0
	for _, part := range strings.Split(spec, ",") {
		lead := len([]rune(part)) - len([]rune(strings.TrimLeft(part, " \t")))
		item := strings.TrimSpace(part)
		if item == "" {
			return errorAt(spec, runeAt+lead, "empty item in list")
		}
		if err := fn(item, runeAt+lead); err != nil {
			return err
		}
		runeAt += len([]rune(part)) + 1
	}
	return nil
}
