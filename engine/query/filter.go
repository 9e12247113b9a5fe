package query

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/schema"
)

// Limits on a filter so a client cannot make the server parse or send to
// MongoDB something arbitrarily large.
const (
	MaxFilterLen   = 4096
	MaxFilterNodes = 500
)

// MaxSafeInteger is the largest whole number a filter may compare with (2^53): records come as JSON,
// whose numbers are exact only up to it, and a larger literal would wrap around when converted.
const MaxSafeInteger = 1 << 53

// Option adjusts translation.
type Option func(*options)

type options struct {
	rename map[string]string
	region string
}

// Rename maps filter paths to stored paths, e.g. {"id": "_id"} when storage
// keeps the record ID in MongoDB's primary key.
func Rename(m map[string]string) Option {
	return func(o *options) { o.rename = m }
}

// PhoneRegion sets the region used to normalise phone numbers written in a
// filter without "+country" (defaults to schema.DefaultRegion), so a filter
// finds the E.164 form records are stored in.
func PhoneRegion(region string) Option {
	return func(o *options) { o.region = region }
}

// ParseFilter parses a filter written in the query language and translates
// it into a MongoDB filter over the given fields. An empty filter matches
// every record. Any problem is returned as an *Error with its position.
func ParseFilter(src string, fields Fields, opts ...Option) (bson.D, error) {
	o := options{region: schema.DefaultRegion}
	for _, f := range opts {
		f(&o)
	}
	if strings.TrimSpace(src) == "" {
		return bson.D{}, nil
	}
	if len(src) > MaxFilterLen {
		return nil, &Error{Line: 1, Column: 1, Message: fmt.Sprintf("filter is %d bytes long, the limit is %d", len(src), MaxFilterLen)}
	}
	cfg := conf.CreateNew()
	cfg.MaxNodes = MaxFilterNodes
	cfg.DisableIfOperator = true
	tree, err := parseSafely(src, cfg)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			if strings.Contains(msg, "exceeds maximum allowed") {
				msg = fmt.Sprintf("filter is too complex (more than %d elements)", MaxFilterNodes)
			}
			return nil, &Error{Line: max(fe.Line, 1), Column: fe.Column + 1, Message: "syntax error: " + msg}
		}
		return nil, &Error{Line: 1, Column: 1, Message: "syntax error: " + err.Error()}
	}
	t := translator{src: src, fields: fields, opts: o}
	c, err := t.cond(tree.Node)
	if err != nil {
		return nil, err
	}
	return c.render(o.rename), nil
}

// parseSafely runs expr's parser, turning a panic into an error so no
// input can crash the caller.
func parseSafely(src string, cfg *conf.Config) (tree *parser.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("cannot parse filter: %v", r)
		}
	}()
	return parser.ParseWithConfig(src, cfg)
}

// cond is the translated filter before rendering: a leaf comparison or a
// boolean group.
type cond struct {
	op    string // eq ne lt lte gt gte in nin regex | and or nor
	field string
	value any
	kids  []cond
}

func (c cond) render(rename map[string]string) bson.D {
	field := c.field
	if r, ok := rename[field]; ok {
		field = r
	}
	switch c.op {
	case "and", "or", "nor":
		arr := bson.A{}
		for _, k := range c.kids {
			arr = append(arr, k.render(rename))
		}
		return bson.D{{Key: "$" + c.op, Value: arr}}
	case "eq":
		return bson.D{{Key: field, Value: c.value}}
	case "regex":
		return bson.D{{Key: field, Value: bson.D{{Key: "$regex", Value: c.value}, {Key: "$options", Value: "i"}}}}
	}
	return bson.D{{Key: field, Value: bson.D{{Key: "$" + c.op, Value: c.value}}}}
}

// negate returns the condition matching exactly the records c does not,
// pushing the negation down (De Morgan) and keeping records that lack the
// field on the right side.
func negate(c cond) cond {
	switch c.op {
	case "and":
		out := cond{op: "or"}
		for _, k := range c.kids {
			out.kids = append(out.kids, negate(k))
		}
		return out
	case "or":
		out := cond{op: "and"}
		for _, k := range c.kids {
			out.kids = append(out.kids, negate(k))
		}
		return out
	case "nor":
		if len(c.kids) == 1 {
			return c.kids[0]
		}
		return cond{op: "or", kids: c.kids}
	case "eq":
		c.op = "ne"
		return c
	case "ne":
		c.op = "eq"
		return c
	case "in":
		c.op = "nin"
		return c
	case "nin":
		c.op = "in"
		return c
	}
	return cond{op: "nor", kids: []cond{c}}
}

// group builds an and/or, flattening nested groups of the same kind.
func group(op string, a, b cond) cond {
	out := cond{op: op}
	for _, c := range []cond{a, b} {
		if c.op == op {
			out.kids = append(out.kids, c.kids...)
		} else {
			out.kids = append(out.kids, c)
		}
	}
	return out
}

type translator struct {
	src    string
	fields Fields
	opts   options
}

func (t *translator) errAt(n ast.Node, format string, args ...any) error {
	return errorAt(t.src, n.Location().From, format, args...)
}

var flipped = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

var mongoOp = map[string]string{"==": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

func (t *translator) cond(n ast.Node) (cond, error) {
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "and", "&&", "or", "||":
			l, err := t.cond(x.Left)
			if err != nil {
				return cond{}, err
			}
			r, err := t.cond(x.Right)
			if err != nil {
				return cond{}, err
			}
			if x.Operator == "and" || x.Operator == "&&" {
				return group("and", l, r), nil
			}
			return group("or", l, r), nil
		case "==", "!=", "<", "<=", ">", ">=":
			return t.comparison(x)
		case "in":
			return t.in(x)
		case "contains", "startsWith", "endsWith":
			return t.text(x)
		}
		return cond{}, t.errAt(x, "operator %q is not supported in filters (use ==, !=, <, <=, >, >=, in, not in, contains, startsWith, endsWith, and, or, not)", x.Operator)
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			inner, err := t.cond(x.Node)
			if err != nil {
				return cond{}, err
			}
			return negate(inner), nil
		}
		return cond{}, t.errAt(x, "operator %q is not supported here", x.Operator)
	case *ast.IdentifierNode, *ast.MemberNode:
		path, f, err := t.field(x)
		if err != nil {
			return cond{}, err
		}
		if f.Type != schema.TypeBoolean {
			return cond{}, t.errAt(x, "%s is a %s field; compare it with a value (for example %s == ...)", path, f.Type, path)
		}
		return cond{op: "eq", field: path, value: true}, nil
	case *ast.BoolNode:
		return cond{}, t.errAt(x, "a filter must compare a field, not be a constant")
	}
	return cond{}, t.errAt(n, "expected a comparison of a field with a value")
}

// field resolves an identifier or a dotted member access to a known path.
func (t *translator) field(n ast.Node) (string, schema.Field, error) {
	path, ok := pathOf(n)
	if !ok {
		return "", schema.Field{}, t.errAt(n, "expected a field name")
	}
	f, ok := t.fields[path]
	if !ok {
		return "", schema.Field{}, t.errAt(n, "unknown field %q", path)
	}
	return path, f, nil
}

func pathOf(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value, true
	case *ast.MemberNode:
		prop, ok := x.Property.(*ast.StringNode)
		if !ok || x.Method {
			return "", false
		}
		base, ok := pathOf(x.Node)
		if !ok {
			return "", false
		}
		return base + "." + prop.Value, true
	}
	return "", false
}

func isFieldNode(n ast.Node) bool {
	_, ok := pathOf(n)
	return ok
}

// valueField is the field describing single values at a path: a list's item.
func valueField(f schema.Field) (schema.Field, bool) {
	if f.Type == schema.TypeList {
		if f.Item == nil {
			return schema.Field{}, false
		}
		return *f.Item, true
	}
	return f, true
}

func (t *translator) comparison(x *ast.BinaryNode) (cond, error) {
	op := x.Operator
	fieldNode, valNode := x.Left, x.Right
	if !isFieldNode(fieldNode) {
		if !isFieldNode(valNode) {
			return cond{}, t.errAt(x, "one side of %s must be a field", op)
		}
		fieldNode, valNode = valNode, fieldNode
		op = flipped[op]
	}
	if isFieldNode(valNode) {
		if _, isField := t.fields[mustPath(valNode)]; isField {
			return cond{}, t.errAt(valNode, "comparing two fields is not supported; compare a field with a value")
		}
	}
	path, f, err := t.field(fieldNode)
	if err != nil {
		return cond{}, err
	}
	if _, isNil := valNode.(*ast.NilNode); isNil {
		switch op {
		case "==":
			return cond{op: "eq", field: path, value: nil}, nil
		case "!=":
			return cond{op: "ne", field: path, value: nil}, nil
		}
		return cond{}, t.errAt(valNode, "nil can only be compared with == or !=")
	}
	vf, ok := valueField(f)
	if !ok || vf.Type == schema.TypeObject || vf.Type == schema.TypeMoney {
		return cond{}, t.errAt(fieldNode, "%s is a %s; compare one of its parts (for example %s.%s)", path, vf.Type, path, firstPart(vf))
	}
	if op != "==" && op != "!=" {
		switch vf.Type {
		case schema.TypeBoolean, schema.TypeEnum, schema.TypeReference, schema.TypeEmail, schema.TypePhone, schema.TypeURL:
			return cond{}, t.errAt(x, "%s cannot be compared with %s; use == , != or in", path, op)
		}
	}
	v, err := t.value(valNode, path, vf)
	if err != nil {
		return cond{}, err
	}
	return cond{op: mongoOp[op], field: path, value: v}, nil
}

func mustPath(n ast.Node) string {
	p, _ := pathOf(n)
	return p
}

func firstPart(f schema.Field) string {
	if f.Type == schema.TypeMoney {
		return "amount"
	}
	if len(f.Fields) > 0 {
		return f.Fields[0].Name
	}
	return "part"
}

func (t *translator) in(x *ast.BinaryNode) (cond, error) {
	if arr, ok := x.Right.(*ast.ArrayNode); ok {
		path, f, err := t.field(x.Left)
		if err != nil {
			return cond{}, err
		}
		vf, ok := valueField(f)
		if !ok || vf.Type == schema.TypeObject || vf.Type == schema.TypeMoney {
			return cond{}, t.errAt(x.Left, "%s cannot be matched with in", path)
		}
		vals := bson.A{}
		for _, n := range arr.Nodes {
			if _, isNil := n.(*ast.NilNode); isNil {
				vals = append(vals, nil)
				continue
			}
			v, err := t.value(n, path, vf)
			if err != nil {
				return cond{}, err
			}
			vals = append(vals, v)
		}
		return cond{op: "in", field: path, value: vals}, nil
	}
	// "value in listField": the list contains the value.
	if isFieldNode(x.Right) {
		path, f, err := t.field(x.Right)
		if err != nil {
			return cond{}, err
		}
		if f.Type != schema.TypeList || f.Item == nil {
			return cond{}, t.errAt(x.Right, "%s is not a list; write %s in [...] to match one of several values", path, path)
		}
		if isFieldNode(x.Left) {
			return cond{}, t.errAt(x.Left, "comparing two fields is not supported; compare a field with a value")
		}
		v, err := t.value(x.Left, path, *f.Item)
		if err != nil {
			return cond{}, err
		}
		return cond{op: "eq", field: path, value: v}, nil
	}
	return cond{}, t.errAt(x.Right, "in needs a list of values in brackets, for example status in [\"new\", \"contacted\"]")
}

func (t *translator) text(x *ast.BinaryNode) (cond, error) {
	path, f, err := t.field(x.Left)
	if err != nil {
		return cond{}, err
	}
	vf, _ := valueField(f)
	if f.Type == schema.TypeList && x.Operator == "contains" {
		v, err := t.value(x.Right, path, vf)
		if err != nil {
			return cond{}, err
		}
		return cond{op: "eq", field: path, value: v}, nil
	}
	switch vf.Type {
	case schema.TypeString, schema.TypeText, schema.TypeEmail, schema.TypePhone, schema.TypeURL:
	default:
		return cond{}, t.errAt(x, "%s works on text fields; %s is a %s", x.Operator, path, vf.Type)
	}
	s, ok := x.Right.(*ast.StringNode)
	if !ok {
		return cond{}, t.errAt(x.Right, "%s needs a string value", x.Operator)
	}
	if s.Value == "" {
		return cond{}, t.errAt(x.Right, "%s needs a non-empty string", x.Operator)
	}
	q := regexp.QuoteMeta(s.Value)
	switch x.Operator {
	case "startsWith":
		q = "^" + q
	case "endsWith":
		q = q + "$"
	}
	return cond{op: "regex", field: path, value: q}, nil
}

// value converts a literal node into the Go value stored for field f.
func (t *translator) value(n ast.Node, path string, f schema.Field) (any, error) {
	switch f.Type {
	case schema.TypeString, schema.TypeText, schema.TypeReference, schema.TypeURL:
		return t.str(n, path)
	case schema.TypeEmail:
		s, err := t.str(n, path)
		return strings.ToLower(strings.TrimSpace(s)), err
	case schema.TypePhone:
		s, err := t.str(n, path)
		if err != nil {
			return nil, err
		}
		if e164, perr := schema.NormalisePhone(s, t.opts.region); perr == nil {
			return e164, nil
		}
		return s, nil
	case schema.TypeEnum:
		s, err := t.str(n, path)
		if err != nil {
			return nil, err
		}
		if len(f.Options) > 0 {
			var vals []string
			for _, o := range f.Options {
				if o.Value == s {
					return s, nil
				}
				vals = append(vals, o.Value)
			}
			return nil, t.errAt(n, "%q is not a value of %s (one of: %s)", s, path, strings.Join(vals, ", "))
		}
		return s, nil
	case schema.TypeBoolean:
		if b, ok := n.(*ast.BoolNode); ok {
			return b.Value, nil
		}
		return nil, t.errAt(n, "%s is true or false", path)
	case schema.TypeInteger:
		num, isInt, ok := number(n)
		if !ok {
			return nil, t.errAt(n, "%s needs a whole number", path)
		}
		if !isInt && num != math.Trunc(num) {
			return nil, t.errAt(n, "%s needs a whole number, not %v", path, num)
		}
		if i, exact := integer(n); exact {
			if i > MaxSafeInteger || i < -MaxSafeInteger {
				return nil, t.errAt(n, "%d is out of range: whole numbers go from -%d to %d", i, int64(MaxSafeInteger), int64(MaxSafeInteger))
			}
			return i, nil
		}
		if math.Abs(num) > MaxSafeInteger {
			return nil, t.errAt(n, "%v is out of range: whole numbers go from -%d to %d", num, int64(MaxSafeInteger), int64(MaxSafeInteger))
		}
		return int64(num), nil
	case schema.TypeDecimal:
		num, _, ok := number(n)
		if !ok {
			return nil, t.errAt(n, "%s needs a number", path)
		}
		if math.IsInf(num, 0) || math.IsNaN(num) {
			return nil, t.errAt(n, "%v is out of range", num)
		}
		return num, nil
	case schema.TypeDate:
		s, err := t.str(n, path)
		if err != nil {
			return nil, err
		}
		if _, perr := time.Parse(time.DateOnly, s); perr != nil {
			return nil, t.errAt(n, "%s needs a date written as \"YYYY-MM-DD\"", path)
		}
		return s, nil
	case schema.TypeDateTime:
		s, err := t.str(n, path)
		if err != nil {
			return nil, err
		}
		if tm, perr := time.Parse(time.RFC3339Nano, s); perr == nil {
			return tm.UTC(), nil
		}
		if tm, perr := time.Parse(time.DateOnly, s); perr == nil {
			return tm, nil
		}
		return nil, t.errAt(n, "%s needs a date and time such as \"2026-01-31T09:30:00Z\" or a date \"2026-01-31\"", path)
	}
	return nil, t.errAt(n, "%s (%s) cannot be compared with a value", path, f.Type)
}

func (t *translator) str(n ast.Node, path string) (string, error) {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value, nil
	}
	return "", t.errAt(n, "%s needs a string in quotes", path)
}

// integer reads an integer literal exactly, with an optional sign; exact is false for anything else
// (and for the one value whose negation does not fit).
func integer(n ast.Node) (v int64, exact bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return int64(x.Value), true
	case *ast.UnaryNode:
		if x.Operator == "-" || x.Operator == "+" {
			v, ok := integer(x.Node)
			if x.Operator == "-" {
				if v == math.MinInt64 {
					return 0, false
				}
				v = -v
			}
			return v, ok
		}
	}
	return 0, false
}

// number reads an integer or float literal, with an optional unary minus.
func number(n ast.Node) (float64, bool, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return float64(x.Value), true, true
	case *ast.FloatNode:
		return x.Value, false, true
	case *ast.UnaryNode:
		if x.Operator == "-" || x.Operator == "+" {
			v, isInt, ok := number(x.Node)
			if x.Operator == "-" {
				v = -v
			}
			return v, isInt, ok
		}
	}
	return 0, false, false
}
