package ferret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

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

// encodeDocument is decodeDocument's inverse: the bytes FerretDB v1.24's SQLite backend stores for a
// BSON document it is asked to insert (sjson.Marshal after the insert's validation, which moves each
// document's _id first and turns -0 into 0), so that Insert can write straight into the files what
// FerretDB would have written. It takes the values records are made of — strings, numbers, booleans,
// dates, null, object IDs, documents and arrays — and refuses, with errNotExact, whatever FerretDB
// would refuse or might store otherwise (keys starting with $ or holding a dot, duplicate keys,
// invalid UTF-8, nested arrays, infinities, NaN, and the rarer BSON types), leaving those to FerretDB.
func encodeDocument(doc bson.Raw) ([]byte, error) {
	els, err := orderedElements(doc, true)
	if err != nil {
		return nil, err
	}
	// One walk writes the schema and the values; the stored form puts the whole schema first.
	var sch, val bytes.Buffer
	sch.Grow(2 * len(doc))
	val.Grow(len(doc))
	if err := encodeFields(&sch, &val, els, true); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(`{"$s":}`)+sch.Len()+val.Len())
	out = append(out, `{"$s":`...)
	out = append(out, sch.Bytes()...)
	out = append(out, val.Bytes()...)
	return append(out, '}'), nil
}

// errNotExact says a document holds something encodeDocument leaves to FerretDB.
var errNotExact = errors.New("the document holds what only FerretDB itself may store")

// orderedElements checks a document's keys as FerretDB's insert validation does and returns its elements
// with _id first (a top-level document must have one).
func orderedElements(doc bson.Raw, top bool) ([]bson.RawElement, error) {
	els, err := doc.Elements()
	if err != nil {
		return nil, fmt.Errorf("ferret: read a document to insert: %w", err)
	}
	var seen map[string]bool // for a long document; a short one is searched
	if len(els) > 16 {
		seen = make(map[string]bool, len(els))
	}
	id := -1
	for i, el := range els {
		k := el.Key()
		dup := seen[k]
		for j := 0; seen == nil && j < i && !dup; j++ {
			dup = els[j].Key() == k
		}
		if k == "" || k[0] == '$' || strings.Contains(k, ".") || !utf8.ValidString(k) || dup {
			return nil, fmt.Errorf("%w: key %q", errNotExact, k)
		}
		if top && !plainJSON(k) {
			if q, _ := json.Marshal(k); string(q) != `"`+k+`"` {
				return nil, fmt.Errorf("%w: key %q needs escaping", errNotExact, k)
			}
		}
		if seen != nil {
			seen[k] = true
		}
		if k == "_id" {
			id = i
		}
	}
	if top && id < 0 {
		return nil, fmt.Errorf("%w: no _id", errNotExact)
	}
	if top {
		switch els[id].Value().Type {
		case bson.TypeString, bson.TypeObjectID, bson.TypeInt32, bson.TypeInt64:
		default:
			return nil, fmt.Errorf("%w: an _id of type %s", errNotExact, els[id].Value().Type)
		}
	}
	if id > 0 {
		el := els[id]
		copy(els[1:id+1], els[:id])
		els[0] = el
	}
	return els, nil
}

// encodeFields writes a document's schema into sch — {"p": {key: type, …}, "$k": [keys]}, or {} when it
// has no fields — and its fields into val: {key: value, …} for a nested document; for the top-level one
// ,"key":value for each, its keys unquoted as FerretDB writes them (orderedElements kept only keys JSON
// leaves alone).
func encodeFields(sch, val *bytes.Buffer, els []bson.RawElement, top bool) error {
	if len(els) == 0 {
		sch.WriteString("{}")
		if !top {
			val.WriteString("{}")
		}
		return nil
	}
	if !top {
		val.WriteByte('{')
	}
	sch.WriteString(`{"p":{`)
	for i, el := range els {
		if i > 0 {
			sch.WriteByte(',')
		}
		writeJSONString(sch, el.Key())
		sch.WriteByte(':')
		if top {
			val.WriteString(`,"` + el.Key() + `":`)
		} else {
			if i > 0 {
				val.WriteByte(',')
			}
			writeJSONString(val, el.Key())
			val.WriteByte(':')
		}
		if err := encodeValue(sch, val, el.Value()); err != nil {
			return err
		}
	}
	sch.WriteString(`},"$k":[`)
	for i, el := range els {
		if i > 0 {
			sch.WriteByte(',')
		}
		writeJSONString(sch, el.Key())
	}
	sch.WriteString(`]}`)
	if !top {
		val.WriteByte('}')
	}
	return nil
}

// scalarTypes names the BSON types encodeDocument stores as FerretDB does.
var scalarTypes = map[bson.Type]string{
	bson.TypeDouble: "double", bson.TypeString: "string", bson.TypeObjectID: "objectId", bson.TypeBoolean: "bool",
	bson.TypeDateTime: "date", bson.TypeNull: "null", bson.TypeInt32: "int", bson.TypeInt64: "long",
}

// encodeValue writes one value's type into sch and the value itself into val as FerretDB's sjson does:
// what encoding/json makes of it.
func encodeValue(sch, val *bytes.Buffer, v bson.RawValue) error {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		els, err := orderedElements(v.Document(), false)
		if err != nil {
			return err
		}
		sch.WriteString(`{"t":"object","$s":`)
		if err := encodeFields(sch, val, els, false); err != nil {
			return err
		}
		sch.WriteByte('}')
		return nil
	case bson.TypeArray:
		items, err := v.Array().Values()
		if err != nil {
			return fmt.Errorf("ferret: read an array to insert: %w", err)
		}
		sch.WriteString(`{"t":"array","i":[`)
		val.WriteByte('[')
		for i, item := range items {
			if item.Type == bson.TypeArray {
				return fmt.Errorf("%w: a nested array", errNotExact)
			}
			if i > 0 {
				sch.WriteByte(',')
				val.WriteByte(',')
			}
			if err := encodeValue(sch, val, item); err != nil {
				return err
			}
		}
		sch.WriteString(`]}`)
		val.WriteByte(']')
		return nil
	}
	t, ok := scalarTypes[v.Type]
	if !ok {
		return fmt.Errorf("%w: a value of type %s", errNotExact, v.Type)
	}
	sch.WriteString(`{"t":"` + t + `"}`)
	switch v.Type {
	case bson.TypeDouble:
		f := v.Double()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%w: %v", errNotExact, f)
		}
		if f == 0 {
			f = 0 // FerretDB stores -0 as 0
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("%w: %v", errNotExact, err)
		}
		val.Write(b)
	case bson.TypeString:
		s := v.StringValue()
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: a string that is not UTF-8", errNotExact)
		}
		writeJSONString(val, s)
	case bson.TypeObjectID:
		val.WriteString(`"` + v.ObjectID().Hex() + `"`)
	case bson.TypeBoolean:
		val.WriteString(strconv.FormatBool(v.Boolean()))
	case bson.TypeDateTime:
		val.WriteString(strconv.FormatInt(v.DateTime(), 10))
	case bson.TypeNull:
		val.WriteString("null")
	case bson.TypeInt32:
		val.WriteString(strconv.FormatInt(int64(v.Int32()), 10))
	case bson.TypeInt64:
		val.WriteString(strconv.FormatInt(v.Int64(), 10))
	}
	return nil
}

// writeJSONString writes s as encoding/json does: as it is when it holds only printable ASCII that
// JSON and encoding/json's HTML escaping leave alone (nearly every key and value), else through
// encoding/json itself.
func writeJSONString(buf *bytes.Buffer, s string) {
	if !plainJSON(s) {
		b, _ := json.Marshal(s)
		buf.Write(b)
		return
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

// plainJSON says encoding/json writes s as it is, between quotes: printable ASCII without quotes,
// backslashes or the characters it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
