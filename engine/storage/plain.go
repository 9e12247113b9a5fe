package storage

import "go.mongodb.org/mongo-driver/v2/bson"

// Plain turns a value decoded from BSON into the plain Go values the rest of Rapport and JSON work with:
// documents become map[string]any, arrays []any, dates time.Time (UTC), 32-bit integers int64 and object
// IDs their hex form. Maps and slices are copied, so the result shares nothing with the input.
func Plain(v any) any {
	switch x := v.(type) {
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = Plain(e.Value)
		}
		return m
	case bson.M:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = Plain(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = Plain(e)
		}
		return m
	case bson.A:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = Plain(e)
		}
		return s
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = Plain(e)
		}
		return s
	case bson.DateTime:
		return x.Time().UTC()
	case int32:
		return int64(x)
	case bson.ObjectID:
		return x.Hex()
	}
	return v
}
