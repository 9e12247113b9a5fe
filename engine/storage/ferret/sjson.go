package ferret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// decodeDocument turns a document as FerretDB v1.24's SQLite backend stores it back into BSON, so that a
// list page read straight from the files needs no second read of each document through FerretDB. The
// stored form ("sjson", FerretDB's internal/handler/sjson) is the JSON of the document's values with,
// under "$s", the BSON type of each: {"$s": {"$k": [keys in order], "p": {key: {"t": type, …}}}, key:
// value, …}. Nested documents keep their schema in the parent's ("$s" of the property), arrays one schema
// per element ("i"); dates are milliseconds, object IDs hex, binary data base64 with its subtype in "s",
// timestamps one unsigned number, regular expressions their pattern with the options in "o".
func decodeDocument(data []byte) (bson.Raw, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("ferret: decode a stored document: %w", err)
	}
	var sch sjsonSchema
	if err := json.Unmarshal(fields["$s"], &sch); err != nil {
		return nil, fmt.Errorf("ferret: decode a stored document's schema: %w", err)
	}
	delete(fields, "$s")
	d, err := decodeObject(fields, &sch)
	if err != nil {
		return nil, fmt.Errorf("ferret: decode a stored document: %w", err)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("ferret: encode a stored document: %w", err)
	}
	return raw, nil
}

// sjsonSchema is the schema of a document: its keys in order and the type of each.
type sjsonSchema struct {
	Keys  []string              `json:"$k"`
	Props map[string]*sjsonElem `json:"p"`
}

// sjsonElem is the type of one value.
type sjsonElem struct {
	Type    string       `json:"t"`
	Schema  *sjsonSchema `json:"$s"`
	Options *string      `json:"o"`
	Items   []*sjsonElem `json:"i"`
	Subtype *byte        `json:"s"`
}

func decodeObject(fields map[string]json.RawMessage, sch *sjsonSchema) (bson.D, error) {
	if len(fields) == 0 {
		return bson.D{}, nil
	}
	if sch == nil || len(sch.Keys) != len(fields) {
		return nil, fmt.Errorf("the schema does not list the document's %d fields", len(fields))
	}
	d := make(bson.D, 0, len(sch.Keys))
	for _, k := range sch.Keys {
		raw, ok := fields[k]
		if !ok {
			return nil, fmt.Errorf("field %q is in the schema, not in the document", k)
		}
		v, err := decodeValue(raw, sch.Props[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d, nil
}

func decodeValue(raw json.RawMessage, e *sjsonElem) (any, error) {
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if e == nil {
		return nil, fmt.Errorf("no type for %s", raw)
	}
	switch e.Type {
	case "object":
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		return decodeObject(fields, e.Schema)
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		if len(items) != len(e.Items) {
			return nil, fmt.Errorf("%d elements, %d types", len(items), len(e.Items))
		}
		a := make(bson.A, len(items))
		for i := range items {
			v, err := decodeValue(items[i], e.Items[i])
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			a[i] = v
		}
		return a, nil
	case "double":
		var f float64
		err := json.Unmarshal(raw, &f)
		return f, err
	case "string":
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case "binData":
		var b []byte
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		if e.Subtype == nil {
			return nil, fmt.Errorf("binary data without a subtype")
		}
		return bson.Binary{Subtype: *e.Subtype, Data: b}, nil
	case "objectId":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return bson.ObjectIDFromHex(s)
	case "bool":
		var b bool
		err := json.Unmarshal(raw, &b)
		return b, err
	case "date":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		return bson.DateTime(n), err
	case "regex":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		o := ""
		if e.Options != nil {
			o = *e.Options
		}
		return bson.Regex{Pattern: s, Options: o}, nil
	case "int":
		n, err := strconv.ParseInt(string(raw), 10, 32)
		return int32(n), err
	case "long":
		n, err := strconv.ParseInt(string(raw), 10, 64)
		return n, err
	case "timestamp":
		n, err := strconv.ParseUint(string(raw), 10, 64)
		return bson.Timestamp{T: uint32(n >> 32), I: uint32(n)}, err
	}
	return nil, fmt.Errorf("unknown type %q", e.Type)
}
