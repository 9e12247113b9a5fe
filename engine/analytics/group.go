package analytics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Spec is one grouping over a collection: the documents matching Match, grouped by Keys, with Measures
// computed per group. Every report that sums, counts or takes extremes over records is a Spec, so the
// choice between a MongoDB pipeline and the streaming Go fold is made in one place (Engine.Group) and
// both give the same Rows.
type Spec struct {
	// Collection is the collection to read, e.g. records_order or record_history.
	Collection string
	// Match is the server-side filter (a find filter; it becomes the pipeline's $match).
	Match bson.D
	// Keys are the grouping dimensions; none gives one group over every matching document.
	Keys []Key
	// Measures are computed per group, in this order in Row.Values.
	Measures []Measure
}

// Key is a grouping dimension: the value of a field (a dotted path), or of a datetime field truncated
// to the start of its day, ISO week (Monday) or month in UTC.
type Key struct {
	Field string
	// Trunc is "", "day", "week" or "month".
	Trunc string
}

// MeasureKind names what a Measure computes.
type MeasureKind string

// The measures. Counts come back as int64, sums as float64 and extremes as the field's value (nil when
// no document had one).
const (
	// Count counts the group's documents.
	Count MeasureKind = "count"
	// CountIf counts the documents where If holds.
	CountIf MeasureKind = "countIf"
	// Sum adds the numeric values of Field (others are ignored, as MongoDB's $sum does).
	Sum MeasureKind = "sum"
	// Min and Max are the smallest and largest value of Field (missing and null ignored).
	Min MeasureKind = "min"
	Max MeasureKind = "max"
	// SumDiff adds Field − Start in milliseconds over documents where both are datetimes.
	SumDiff MeasureKind = "sumDiff"
)

// Measure is one figure per group.
type Measure struct {
	Kind  MeasureKind
	Field string
	// Start is the datetime subtracted from Field by SumDiff.
	Start string
	// If is the condition of CountIf.
	If *Cond
}

// Cond is a condition on one document, evaluated by the pipeline ($cond) and by the Go fold alike.
// Comparisons hold only when the compared values are present and of the same kind (numbers, strings or
// datetimes).
type Cond struct {
	Op CondOp
	// Field is the compared field; Other the second field of a field-to-field comparison.
	Field, Other string
	// Value is the constant of a comparison with a value.
	Value any
	// Of are the operands of And, Or and Not (one).
	Of []Cond
}

// CondOp names a condition.
type CondOp string

// The conditions a Cond can express.
const (
	OpExists   CondOp = "exists"   // Field is present and not null
	OpEq       CondOp = "eq"       // Field == Value
	OpGt       CondOp = "gt"       // Field > Value
	OpLt       CondOp = "lt"       // Field < Value
	OpLteField CondOp = "lteField" // Field <= Other
	OpGtField  CondOp = "gtField"  // Field > Other
	OpAnd      CondOp = "and"
	OpOr       CondOp = "or"
	OpNot      CondOp = "not"
)

// Cond constructors, for readable specs.
func Exists(f string) Cond          { return Cond{Op: OpExists, Field: f} }
func Eq(f string, v any) Cond       { return Cond{Op: OpEq, Field: f, Value: v} }
func Gt(f string, v any) Cond       { return Cond{Op: OpGt, Field: f, Value: v} }
func Lt(f string, v any) Cond       { return Cond{Op: OpLt, Field: f, Value: v} }
func LteField(f, other string) Cond { return Cond{Op: OpLteField, Field: f, Other: other} }
func GtField(f, other string) Cond  { return Cond{Op: OpGtField, Field: f, Other: other} }
func And(cs ...Cond) Cond           { return Cond{Op: OpAnd, Of: cs} }
func Or(cs ...Cond) Cond            { return Cond{Op: OpOr, Of: cs} }
func Not(c Cond) Cond               { return Cond{Op: OpNot, Of: []Cond{c}} }

// Row is one group: its key values (in Spec.Keys order) and measures (in Spec.Measures order). Values are
// plain Go: string, float64 (every number), bool, time.Time (UTC, millisecond precision) or nil.
type Row struct {
	Keys   []any
	Values []any
}

// Int returns measure i as an int64 (counts).
func (r Row) Int(i int) int64 {
	switch x := r.Values[i].(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

// Float returns measure i as a float64 (sums).
func (r Row) Float(i int) float64 {
	switch x := r.Values[i].(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// Key returns key i as a string ("" for a missing value).
func (r Row) Key(i int) string { return keyString(r.Keys[i]) }

func keyString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// validate refuses specs the two paths could not compute alike.
func (s Spec) validate() error {
	if s.Collection == "" {
		return errors.New("analytics: a grouping needs a collection")
	}
	for _, k := range s.Keys {
		if k.Field == "" || !slices.Contains([]string{"", "day", "week", "month"}, k.Trunc) {
			return fmt.Errorf("analytics: bad key %+v", k)
		}
	}
	for _, m := range s.Measures {
		switch m.Kind {
		case Count:
		case CountIf:
			if m.If == nil {
				return errors.New("analytics: countIf needs a condition")
			}
		case Sum, Min, Max:
			if m.Field == "" {
				return fmt.Errorf("analytics: %s needs a field", m.Kind)
			}
		case SumDiff:
			if m.Field == "" || m.Start == "" {
				return errors.New("analytics: sumDiff needs a field and a start")
			}
		default:
			return fmt.Errorf("analytics: unknown measure %q", m.Kind)
		}
	}
	return nil
}

// Pipeline is the MongoDB aggregation pipeline computing the spec: $match, then one $group whose _id
// holds the keys (k0, k1, …) and whose fields m0, m1, … hold the measures.
func (s Spec) Pipeline() bson.A {
	id := any(nil)
	if len(s.Keys) > 0 {
		d := bson.D{}
		for i, k := range s.Keys {
			var v any = "$" + k.Field
			if k.Trunc != "" {
				dt := bson.D{{Key: "date", Value: "$" + k.Field}, {Key: "unit", Value: k.Trunc}, {Key: "timezone", Value: "UTC"}}
				if k.Trunc == "week" {
					dt = append(dt, bson.E{Key: "startOfWeek", Value: "monday"})
				}
				v = bson.D{{Key: "$dateTrunc", Value: dt}}
			}
			d = append(d, bson.E{Key: fmt.Sprintf("k%d", i), Value: v})
		}
		id = d
	}
	group := bson.D{{Key: "_id", Value: id}}
	for i, m := range s.Measures {
		var acc bson.D
		switch m.Kind {
		case Count:
			acc = bson.D{{Key: "$sum", Value: 1}}
		case CountIf:
			acc = bson.D{{Key: "$sum", Value: bson.D{{Key: "$cond", Value: bson.A{m.If.expr(), 1, 0}}}}}
		case Sum:
			acc = bson.D{{Key: "$sum", Value: "$" + m.Field}}
		case Min:
			acc = bson.D{{Key: "$min", Value: "$" + m.Field}}
		case Max:
			acc = bson.D{{Key: "$max", Value: "$" + m.Field}}
		case SumDiff:
			both := And(Exists(m.Field), Exists(m.Start)).expr()
			acc = bson.D{{Key: "$sum", Value: bson.D{{Key: "$cond", Value: bson.A{both,
				bson.D{{Key: "$subtract", Value: bson.A{"$" + m.Field, "$" + m.Start}}}, 0}}}}}
		}
		group = append(group, bson.E{Key: fmt.Sprintf("m%d", i), Value: acc})
	}
	match := s.Match
	if match == nil {
		match = bson.D{}
	}
	return bson.A{bson.D{{Key: "$match", Value: match}}, bson.D{{Key: "$group", Value: group}}}
}

// expr is the condition as an aggregation expression.
func (c Cond) expr() any {
	f := "$" + c.Field
	exists := bson.D{{Key: "$gt", Value: bson.A{f, nil}}}
	switch c.Op {
	case OpExists:
		return exists
	case OpEq:
		return bson.D{{Key: "$eq", Value: bson.A{f, c.Value}}}
	case OpGt:
		return bson.D{{Key: "$and", Value: bson.A{exists, bson.D{{Key: "$gt", Value: bson.A{f, c.Value}}}}}}
	case OpLt:
		return bson.D{{Key: "$and", Value: bson.A{exists, bson.D{{Key: "$lt", Value: bson.A{f, c.Value}}}}}}
	case OpLteField, OpGtField:
		o := "$" + c.Other
		op := "$lte"
		if c.Op == OpGtField {
			op = "$gt"
		}
		return bson.D{{Key: "$and", Value: bson.A{exists, bson.D{{Key: "$gt", Value: bson.A{o, nil}}}, bson.D{{Key: op, Value: bson.A{f, o}}}}}}
	case OpAnd, OpOr:
		parts := bson.A{}
		for _, x := range c.Of {
			parts = append(parts, x.expr())
		}
		return bson.D{{Key: "$" + string(c.Op), Value: parts}}
	case OpNot:
		return bson.D{{Key: "$not", Value: bson.A{c.Of[0].expr()}}}
	}
	return false
}

// fields lists every field the spec reads, for the streaming path's projection.
func (s Spec) fields() []string {
	var out []string
	add := func(f string) {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	var cond func(c Cond)
	cond = func(c Cond) {
		add(c.Field)
		add(c.Other)
		for _, x := range c.Of {
			cond(x)
		}
	}
	for _, k := range s.Keys {
		add(k.Field)
	}
	for _, m := range s.Measures {
		add(m.Field)
		add(m.Start)
		if m.If != nil {
			cond(*m.If)
		}
	}
	return out
}

// runPipeline computes the spec with an aggregation pipeline on the server.
func runPipeline(ctx context.Context, db *mongo.Database, s Spec) ([]Row, error) {
	cur, err := db.Collection(s.Collection).Aggregate(ctx, s.Pipeline(), options.Aggregate().SetAllowDiskUse(true))
	if err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", s.Collection, err)
	}
	defer cur.Close(ctx)
	var rows []Row
	for cur.Next(ctx) {
		doc := cur.Current
		r := Row{Keys: make([]any, len(s.Keys)), Values: make([]any, len(s.Measures))}
		if id, err := doc.LookupErr("_id"); err == nil && id.Type == bson.TypeEmbeddedDocument {
			for i := range s.Keys {
				if v, err := id.Document().LookupErr(fmt.Sprintf("k%d", i)); err == nil {
					r.Keys[i] = plain(v)
				}
			}
		}
		for i, m := range s.Measures {
			v, err := doc.LookupErr(fmt.Sprintf("m%d", i))
			if err != nil {
				continue
			}
			switch m.Kind {
			case Count, CountIf:
				n, _ := v.AsInt64OK()
				if f, ok := v.DoubleOK(); ok {
					n = int64(f)
				}
				r.Values[i] = n
			case Sum, SumDiff:
				r.Values[i] = toFloat(plain(v))
			default:
				r.Values[i] = plain(v)
			}
		}
		rows = append(rows, r)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", s.Collection, err)
	}
	sortRows(rows)
	return rows, nil
}

// group is one group of the streaming fold.
type group struct {
	keys []any
	acc  []accum
}

type accum struct {
	n   int64
	sum float64
	ext any
}

// runStreaming computes the spec by reading the matching documents once, projected to the fields it
// needs, and folding them into one accumulator per group: memory grows with the number of groups, never
// with the number of documents.
func runStreaming(ctx context.Context, db *mongo.Database, s Spec) ([]Row, error) {
	groups := map[string]*group{}
	var keyBuf bytes.Buffer
	err := scan(ctx, db.Collection(s.Collection), s.Match, s.fields(), func(doc bson.Raw) error {
		keyBuf.Reset()
		keys := make([]any, len(s.Keys))
		for i, k := range s.Keys {
			v := lookupPlain(doc, k.Field)
			if k.Trunc != "" {
				v = truncate(v, k.Trunc)
			}
			keys[i] = v
			fmt.Fprintf(&keyBuf, "%T:%v\x00", v, v)
		}
		g := groups[keyBuf.String()]
		if g == nil {
			g = &group{keys: keys, acc: make([]accum, len(s.Measures))}
			groups[keyBuf.String()] = g
		}
		for i, m := range s.Measures {
			a := &g.acc[i]
			switch m.Kind {
			case Count:
				a.n++
			case CountIf:
				if m.If.holds(doc) {
					a.n++
				}
			case Sum:
				if f, ok := number(lookupPlain(doc, m.Field)); ok {
					a.sum += f
				}
			case Min, Max:
				v := lookupPlain(doc, m.Field)
				if v == nil {
					continue
				}
				c := 0
				if a.ext != nil {
					c = compare(v, a.ext)
				}
				if a.ext == nil || (m.Kind == Min && c < 0) || (m.Kind == Max && c > 0) {
					a.ext = v
				}
			case SumDiff:
				end, ok1 := lookupPlain(doc, m.Field).(time.Time)
				start, ok2 := lookupPlain(doc, m.Start).(time.Time)
				if ok1 && ok2 {
					a.sum += float64(end.Sub(start).Milliseconds())
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(groups))
	for _, g := range groups {
		r := Row{Keys: g.keys, Values: make([]any, len(s.Measures))}
		for i, m := range s.Measures {
			switch m.Kind {
			case Count, CountIf:
				r.Values[i] = g.acc[i].n
			case Sum, SumDiff:
				r.Values[i] = g.acc[i].sum
			default:
				r.Values[i] = g.acc[i].ext
			}
		}
		rows = append(rows, r)
	}
	sortRows(rows)
	return rows, nil
}

// holds evaluates the condition on a stored document.
func (c Cond) holds(doc bson.Raw) bool {
	switch c.Op {
	case OpExists:
		return lookupPlain(doc, c.Field) != nil
	case OpEq:
		v := lookupPlain(doc, c.Field)
		return v != nil && sameKind(v, normalise(c.Value)) && compare(v, normalise(c.Value)) == 0 || v == nil && c.Value == nil
	case OpGt, OpLt:
		v, w := lookupPlain(doc, c.Field), normalise(c.Value)
		if v == nil || w == nil || !sameKind(v, w) {
			return false
		}
		if c.Op == OpGt {
			return compare(v, w) > 0
		}
		return compare(v, w) < 0
	case OpLteField, OpGtField:
		v, w := lookupPlain(doc, c.Field), lookupPlain(doc, c.Other)
		if v == nil || w == nil || !sameKind(v, w) {
			return false
		}
		if c.Op == OpGtField {
			return compare(v, w) > 0
		}
		return compare(v, w) <= 0
	case OpAnd:
		for _, x := range c.Of {
			if !x.holds(doc) {
				return false
			}
		}
		return true
	case OpOr:
		for _, x := range c.Of {
			if x.holds(doc) {
				return true
			}
		}
		return false
	case OpNot:
		return !c.Of[0].holds(doc)
	}
	return false
}

// scan streams the documents of coll matching filter, projected to fields (all when none), to fn. The
// documents are the cursor's own buffers: fn must not keep them.
func scan(ctx context.Context, coll *mongo.Collection, filter bson.D, fields []string, fn func(bson.Raw) error) error {
	if filter == nil {
		filter = bson.D{}
	}
	opts := options.Find().SetBatchSize(1000)
	if len(fields) > 0 {
		proj := bson.D{}
		for _, f := range fields {
			proj = append(proj, bson.E{Key: f, Value: 1})
		}
		opts.SetProjection(proj)
	}
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	return nil
}

// lookupPlain reads a dotted path of a stored document as a plain value (nil when missing or null).
func lookupPlain(doc bson.Raw, path string) any {
	v, err := doc.LookupErr(strings.Split(path, ".")...)
	if err != nil {
		return nil
	}
	return plain(v)
}

// plain converts a BSON value to the plain Go value Rows carry.
func plain(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeInt32:
		return float64(v.Int32())
	case bson.TypeInt64:
		return float64(v.Int64())
	case bson.TypeDecimal128:
		f, err := strconv.ParseFloat(v.Decimal128().String(), 64)
		if err != nil {
			return nil
		}
		return f
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeDateTime:
		return time.UnixMilli(v.DateTime()).UTC()
	}
	return v.String()
}

// normalise converts a constant of a Cond to the plain form stored values take.
func normalise(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case time.Time:
		return x.UTC().Truncate(time.Millisecond)
	}
	return v
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func toFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

// truncate cuts a datetime to the start of its day, ISO week or month (UTC); other values give nil, as
// $dateTrunc gives null for a missing date.
func truncate(v any, unit string) any {
	t, ok := v.(time.Time)
	if !ok {
		return nil
	}
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch unit {
	case "week":
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -back)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// kindRank orders values of different kinds as BSON does: null, numbers, strings, booleans, datetimes.
func kindRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case float64:
		return 1
	case string:
		return 2
	case bool:
		return 8
	case time.Time:
		return 9
	}
	return 5
}

func sameKind(a, b any) bool { return kindRank(a) == kindRank(b) }

// compare orders two plain values: by kind first, then by value.
func compare(a, b any) int {
	ra, rb := kindRank(a), kindRank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// sortRows orders rows by their keys so both paths list groups alike.
func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		for i := range a.Keys {
			if c := compare(a.Keys[i], b.Keys[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}
