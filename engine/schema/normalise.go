package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// plain converts a Go value from a JSON decoder, a BSON decoder or Go code
// into the JSON-like shape the JSON Schema validator understands: maps with
// string keys, []any, strings, bools, numbers and nil. Times become RFC 3339
// strings. Anything else is an error.
func plain(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("is not a finite number")
		}
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("is not a valid number")
		}
		return f, nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case interface{ Time() time.Time }: // bson.DateTime and similar
		return x.Time().UTC().Format(time.RFC3339Nano), nil
	case interface{ Hex() string }: // bson.ObjectID used as a record ID
		return x.Hex(), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			pv, err := plain(val)
			if err != nil {
				return nil, err
			}
			out[k] = pv
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i := range x {
			pv, err := plain(x[i])
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			pv, err := plain(it.Value().Interface())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = pv
		}
		return out, nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break
		}
		if m, ok := keyValueSlice(rv); ok {
			return plain(m)
		}
		out := make([]any, rv.Len())
		for i := range out {
			pv, err := plain(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	case reflect.String:
		return rv.String(), nil
	}
	return nil, fmt.Errorf("has an unsupported value of Go type %T", v)
}

// normaliser rewrites values into their canonical stored form before the
// JSON Schema check and records what it could not make sense of.
type normaliser struct {
	region string
	errs   map[string]string
}

func (n *normaliser) fail(ptr, msg string) { n.errs[ptr] = msg }

// value normalises val for field f at pointer ptr.
func (n *normaliser) value(ptr string, f *Field, val any, mode Mode) any {
	switch f.Type {
	case TypeString, TypeReference, TypeEnum:
		if s, ok := val.(string); ok {
			return strings.TrimSpace(s)
		}
	case TypeInteger:
		return integral(val)
	case TypeEmail:
		if s, ok := val.(string); ok {
			s = strings.ToLower(strings.TrimSpace(s))
			if at := strings.LastIndexByte(s, '@'); at > 0 && at < len(s)-1 && !strings.Contains(s[at+1:], ".") {
				n.fail(ptr, "is not a valid email address: the domain needs a dot")
			}
			return s
		}
	case TypePhone:
		if s, ok := val.(string); ok {
			e164, err := NormalisePhone(s, n.region)
			if err != nil {
				n.fail(ptr, err.Error())
				return s
			}
			return e164
		}
	case TypeURL:
		if s, ok := val.(string); ok {
			u, err := NormaliseURL(s)
			if err != nil {
				n.fail(ptr, err.Error())
				return s
			}
			return u
		}
	case TypeMoney:
		if m, ok := val.(map[string]any); ok {
			if c, ok := m["currency"].(string); ok {
				m["currency"] = strings.ToUpper(strings.TrimSpace(c))
			}
			return m
		}
	case TypeList:
		if arr, ok := val.([]any); ok && f.Item != nil {
			for i := range arr {
				if arr[i] == nil {
					continue
				}
				arr[i] = n.value(ptr+"/"+strconv.Itoa(i), f.Item, arr[i], mode)
			}
			return arr
		}
	case TypeObject:
		if m, ok := val.(map[string]any); ok {
			if mode == Create {
				for i := range f.Fields {
					sf := &f.Fields[i]
					if cur, ok := m[sf.Name]; (!ok || cur == nil) && sf.Default != nil {
						m[sf.Name] = deepCopy(sf.Default)
					}
				}
			}
			for i := range f.Fields {
				sf := &f.Fields[i]
				if sv, ok := m[sf.Name]; ok && sv != nil {
					m[sf.Name] = n.value(ptr+"/"+pointerToken(sf.Name), sf, sv, mode)
				}
			}
			return m
		}
	}
	return val
}

// integral turns whole floats into int64 so "3" and 3.0 store alike.
func integral(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case float32:
		if float64(x) == math.Trunc(float64(x)) {
			return int64(x)
		}
	case int:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v
}

// NormalisePhone parses a phone number written in any common form and
// returns it in E.164 ("+79123456789"). Numbers without a "+country" prefix
// are read in region (ISO 3166 code, e.g. "RU").
func NormalisePhone(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("is not a valid phone number: it is empty")
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("is not a valid phone number")
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("is not a valid phone number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// NormaliseURL accepts an http(s) URL, adding "https://" when the scheme is
// left out ("example.com"), and rejects other schemes and hostless URLs.
func NormaliseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, " \t") {
		return "", fmt.Errorf("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("is not a valid URL: only http and https are allowed")
	}
	return u.String(), nil
}

// finish converts a schema-valid document into the Go types records carry:
// datetimes as time.Time (UTC), integers as int64, decimals as float64.
func (n *normaliser) finish(v *Validator, in map[string]any, mode Mode) map[string]any {
	out := make(map[string]any, len(in))
	for k, val := range in {
		if f := v.entity.Field(k); f != nil {
			out[k] = finishValue(f, val)
		} else {
			out[k] = val
		}
	}
	return out
}

func finishValue(f *Field, val any) any {
	switch f.Type {
	case TypeDateTime:
		if s, ok := val.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC()
			}
		}
	case TypeInteger:
		switch x := integral(val).(type) {
		case int64:
			return x
		case int8, int16, uint, uint8, uint16, uint32, uint64:
			return reflect.ValueOf(x).Convert(reflect.TypeOf(int64(0))).Interface()
		}
	case TypeDecimal:
		return toFloat(val)
	case TypeMoney:
		if m, ok := val.(map[string]any); ok {
			m["amount"] = toFloat(m["amount"])
			return m
		}
	case TypeList:
		if arr, ok := val.([]any); ok && f.Item != nil {
			for i := range arr {
				arr[i] = finishValue(f.Item, arr[i])
			}
			return arr
		}
	case TypeObject:
		if m, ok := val.(map[string]any); ok {
			for i := range f.Fields {
				sf := &f.Fields[i]
				if sv, ok := m[sf.Name]; ok && sv != nil {
					m[sf.Name] = finishValue(sf, sv)
				}
			}
			return m
		}
	}
	return val
}

func toFloat(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	return v
}

// keyValueSlice reads an ordered document such as bson.D (a slice of
// structs with Key and Value fields) as a map, so records decoded by the
// MongoDB driver validate without this package importing it.
func keyValueSlice(rv reflect.Value) (map[string]any, bool) {
	et := rv.Type().Elem()
	if et.Kind() != reflect.Struct {
		return nil, false
	}
	kf, okK := et.FieldByName("Key")
	vf, okV := et.FieldByName("Value")
	if !okK || !okV || kf.Type.Kind() != reflect.String || vf.Type.Kind() != reflect.Interface {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		el := rv.Index(i)
		m[el.FieldByIndex(kf.Index).String()] = el.FieldByIndex(vf.Index).Interface()
	}
	return m, true
}
