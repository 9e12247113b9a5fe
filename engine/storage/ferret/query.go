package ferret

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"modernc.org/sqlite"

	"github.com/rapportcrm/rapport/engine/storage"
)

// List answers a filtered, sorted page of a collection straight from the SQLite file FerretDB keeps it
// in: SQLite evaluates the filter and the order on each stored document's JSON, where FerretDB v1.24
// would decode every document into Go values to filter and sort it (measured on 10,000 contacts: a page
// of 50 took about a second that way). It returns the _id of the first Limit documents in sort order,
// their documents when Documents is set (decoded from the stored form, decodeDocument) and, when Count
// is set, how many match the Filter (After positions the page, it does not narrow the count). The page
// and the count read one snapshot.
//
// It understands the filters Rapport's lists build — $and, $or, $nor and, on top-level fields, equality,
// $ne, $gt, $gte, $lt, $lte, $in and $nin with strings, numbers, booleans, dates and null, and $regex
// (with $options "i") — with MongoDB's meaning: a comparison matches values of the same kind only
// (numbers of any width, never a date with a number), an array matches when an element does, null
// matches a missing field, a negation matches what the comparison does not. Anything else (nested paths,
// documents as values, other operators) returns an error wrapping storage.ErrNotPushed, and the caller
// lists the way FerretDB does. Sort keys must be top-level fields holding no arrays: an array sorts by its
// JSON text here, by its smallest or largest element in MongoDB.
func (s *Server) List(ctx context.Context, lq storage.ListQuery) (res storage.ListResult, err error) {
	if _, err := listSQL("t", lq); err != nil {
		return res, err // refused before touching the files
	}
	db, err := s.reader(lq.Database)
	if err != nil {
		return res, err
	}
	// One read transaction: the page and the count see the same commit.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("ferret: list %s: %w", lq.Collection, err)
	}
	defer tx.Rollback()
	table, err := tableOf(ctx, tx, lq.Collection)
	if err != nil || table == "" {
		return res, err // no table: no such collection (yet), and FerretDB finds nothing either
	}
	q, err := listSQL(table, lq)
	if err != nil {
		return res, err
	}
	rows, err := tx.QueryContext(ctx, q.page, q.pageArgs...)
	if err != nil {
		return res, fmt.Errorf("ferret: list %s: %w", lq.Collection, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind, doc sql.NullString
		if err := rows.Scan(&id, &kind, &doc); err != nil {
			return res, fmt.Errorf("ferret: list %s: %w", lq.Collection, err)
		}
		if kind.String != "string" {
			return res, fmt.Errorf("%w: %s holds an _id of type %q", storage.ErrNotPushed, lq.Collection, kind.String)
		}
		res.IDs = append(res.IDs, id.String)
		if lq.Documents {
			raw, err := decodeDocument([]byte(doc.String))
			if err != nil {
				return res, fmt.Errorf("%w: %s %s: %v", storage.ErrNotPushed, lq.Collection, id.String, err)
			}
			res.Docs = append(res.Docs, raw)
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("ferret: list %s: %w", lq.Collection, err)
	}
	if lq.Count {
		if err := tx.QueryRowContext(ctx, q.count, q.countArgs...).Scan(&res.Total); err != nil {
			return res, fmt.Errorf("ferret: count %s: %w", lq.Collection, err)
		}
	}
	return res, nil
}

// listStatements are the SQL of a page and of its count, with their arguments.
type listStatements struct {
	page, count         string
	pageArgs, countArgs []any
}

// listSQL translates a list query on a table.
func listSQL(table string, lq storage.ListQuery) (listStatements, error) {
	var b sqlBuilder
	where, err := b.and(lq.Filter)
	if err != nil {
		return listStatements{}, err
	}
	countArgs := slices.Clone(b.args)
	page := where
	if lq.After != nil {
		after, err := b.and(lq.After)
		if err != nil {
			return listStatements{}, err
		}
		page = where + " AND " + after
	}
	order, err := orderBy(lq.Sort)
	if err != nil {
		return listStatements{}, err
	}
	return listStatements{
		page:      fmt.Sprintf(`SELECT %s, %s, %s FROM %q WHERE %s ORDER BY %s LIMIT ?`, value("_id"), typeOf("_id"), docColumn(lq.Documents), table, page, order),
		pageArgs:  append(b.args, lq.Limit),
		count:     fmt.Sprintf(`SELECT COUNT(*) FROM %q WHERE %s`, table, where),
		countArgs: countArgs,
	}, nil
}

// docColumn is the stored document when a page asks for it, else nothing.
func docColumn(documents bool) string {
	if documents {
		return "_ferretdb_sjson"
	}
	return "NULL"
}

// querier is a database or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tableOf is the SQLite table FerretDB keeps a collection in; "" when there is no such collection.
func tableOf(ctx context.Context, db querier, collection string) (string, error) {
	table, _, err := collectionOf(ctx, db, collection)
	return table, err
}

// collectionOf is the SQLite table FerretDB keeps a collection in and the collection's settings (JSON);
// "" when there is no such collection.
func collectionOf(ctx context.Context, db querier, collection string) (table, settings string, err error) {
	err = db.QueryRowContext(ctx, `SELECT table_name, settings FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table, &settings)
	if err != nil && isMissing(err) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("ferret: find the table of %s: %w", collection, err)
	}
	return table, settings, nil
}

// isMissing says a lookup found no such collection, or no collections table at all (a database FerretDB
// has not set up yet).
func isMissing(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || strings.Contains(err.Error(), "no such table")
}

// IndexSort keeps an index of a collection in the order of a sort by key then _id, made of the very
// expressions List orders by, so that a page in that order, either way round, walks the index and stops
// once it has its limit instead of sorting every matching document (measured by BenchmarkList). SQLite
// keeps it up to date on FerretDB's writes, which each index makes dearer (BenchmarkIndexSortWrites: two
// indexes, an update by _id about 20–30% slower), so index only the orders lists use by default. A collection that does not exist yet is left alone: call
// again once it does.
func (s *Server) IndexSort(ctx context.Context, database, collection, key string) error {
	if !plainName.MatchString(database) || !plainName.MatchString(key) {
		return fmt.Errorf("ferret: cannot index %s by %q", collection, key)
	}
	db, err := s.writer(filepath.Join(s.dir, database+".sqlite"))
	if err != nil {
		return err
	}
	table, err := tableOf(ctx, db, collection)
	if err != nil || table == "" {
		return err
	}
	q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s, %s, %s, %s)`, table+sortIndexInfix+key, table, rank(key), value(key), rank("_id"), value("_id"))
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("ferret: index %s by %s: %w", collection, key, err)
	}
	return nil
}

// sortIndexInfix names the indexes IndexSort adds: the table, the infix, the sort key.
const sortIndexInfix = "_rapport_sort_"

// reader is the read-only pool of one database's SQLite file. WAL lets its readers run beside FerretDB's
// writer; each query sees the last commit, so a list after a write sees the write.
func (s *Server) reader(database string) (*sql.DB, error) {
	if !plainName.MatchString(database) {
		return nil, fmt.Errorf("%w: database name %q", storage.ErrNotPushed, database)
	}
	file := filepath.Join(s.dir, database+".sqlite")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, fmt.Errorf("%w: the store is stopped", storage.ErrNotPushed)
	}
	if db := s.readers[file]; db != nil {
		return db, nil
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("ferret: open %s: %w", filepath.Base(file), err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s.readers[file] = db
	return db, nil
}

// plainName is a field or database name that can be written into a JSON path or a file name as it is;
// records' fields are such names (the schema allows no others), and anything else is left to FerretDB.
var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// value is the SQL value of a top-level field: text, integer, real, or 0/1 for a boolean; NULL when the
// field is missing or null. typeOf is its BSON type as FerretDB's schema in the document records it
// ("string", "int", "long", "double", "date", "bool", "null", "array", "object", …; NULL when missing).
// Dates are stored as milliseconds since the epoch, so the type tells a date from a number.
func value(field string) string { return fmt.Sprintf(`json_extract(_ferretdb_sjson, '$.%s')`, field) }

func typeOf(field string) string {
	return fmt.Sprintf(`json_extract(_ferretdb_sjson, '$."$s".p.%s.t')`, field)
}

// kinds are the stored types a value of each kind compares with, as in MongoDB's type bracketing.
var kinds = map[string]string{
	"number": `('int', 'long', 'double')`,
	"string": `('string')`,
	"bool":   `('bool')`,
	"date":   `('date')`,
}

// sqlBuilder turns a MongoDB filter into a SQL condition that is 1 or 0 for every document, never NULL,
// so that NOT keeps its meaning; the values are bound as arguments.
type sqlBuilder struct {
	args []any
}

// and is the conjunction of a filter document's elements (1 for an empty one).
func (b *sqlBuilder) and(filter bson.D) (string, error) {
	if len(filter) == 0 {
		return "1", nil
	}
	parts := make([]string, 0, len(filter))
	for _, e := range filter {
		p, err := b.elem(e)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

func (b *sqlBuilder) elem(e bson.E) (string, error) {
	switch e.Key {
	case "$and", "$or", "$nor":
		arr, ok := e.Value.(bson.A)
		if !ok {
			return "", notPushed("%s of %T", e.Key, e.Value)
		}
		if len(arr) == 0 {
			return "", notPushed("empty %s", e.Key) // MongoDB refuses it
		}
		parts := make([]string, 0, len(arr))
		for _, x := range arr {
			d, ok := x.(bson.D)
			if !ok {
				return "", notPushed("%s element of %T", e.Key, x)
			}
			p, err := b.and(d)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		switch e.Key {
		case "$and":
			return "(" + strings.Join(parts, " AND ") + ")", nil
		case "$or":
			return "(" + strings.Join(parts, " OR ") + ")", nil
		}
		return "(NOT (" + strings.Join(parts, " OR ") + "))", nil
	}
	if !plainName.MatchString(e.Key) {
		return "", notPushed("field %q", e.Key)
	}
	ops, ok := e.Value.(bson.D)
	if !ok || len(ops) == 0 || !strings.HasPrefix(ops[0].Key, "$") {
		return b.compare(e.Key, "$eq", e.Value)
	}
	parts := make([]string, 0, len(ops))
	var flags string // $options of a $regex
	for _, op := range ops {
		if op.Key == "$options" {
			if flags, ok = op.Value.(string); !ok || flags != "" && flags != "i" {
				return "", notPushed("$options %v", op.Value)
			}
		}
	}
	for _, op := range ops {
		switch op.Key {
		case "$options":
			continue
		case "$regex":
			p, err := b.regex(e.Key, op.Value, flags)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
			continue
		}
		p, err := b.compare(e.Key, op.Key, op.Value)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

// compare is one operator applied to a top-level field.
func (b *sqlBuilder) compare(field, op string, v any) (string, error) {
	switch op {
	case "$ne":
		p, err := b.compare(field, "$eq", v)
		return "(NOT " + p + ")", err
	case "$nin":
		p, err := b.compare(field, "$in", v)
		return "(NOT " + p + ")", err
	case "$in":
		arr, ok := v.(bson.A)
		if !ok {
			return "", notPushed("$in of %T", v)
		}
		if len(arr) == 0 {
			return "0", nil
		}
		parts := make([]string, 0, len(arr))
		for _, x := range arr {
			p, err := b.compare(field, "$eq", x)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return "(" + strings.Join(parts, " OR ") + ")", nil
	}
	sqlOp, ok := map[string]string{"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
	if !ok {
		return "", notPushed("operator %s", op)
	}
	if v == nil {
		if op != "$eq" {
			return "", notPushed("%s null", op)
		}
		// null matches a missing field, a null, and an array holding a null.
		return fmt.Sprintf(`(%[1]s IS NULL OR %[1]s = 'null' OR (%[1]s = 'array' AND EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.%[2]s') AS e WHERE %[3]s = 'null')))`,
			typeOf(field), field, itemType(field)), nil
	}
	kind, arg, err := sqlValue(v)
	if err != nil {
		return "", err
	}
	b.args = append(b.args, arg, arg)
	return fmt.Sprintf(`COALESCE((%[1]s IN %[2]s AND %[3]s %[4]s ?) OR (%[1]s = 'array' AND EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.%[5]s') AS e WHERE %[6]s IN %[2]s AND e.value %[4]s ?)), 0)`,
		typeOf(field), kinds[kind], value(field), sqlOp, field, itemType(field)), nil
}

// regex matches the strings of a field, or of its array, against a regular expression as FerretDB
// does: Go's regexp, case-insensitive with the option "i".
func (b *sqlBuilder) regex(field string, v any, flags string) (string, error) {
	pattern, ok := v.(string)
	if !ok {
		return "", notPushed("$regex of %T", v)
	}
	if flags == "i" {
		pattern = "(?i)" + pattern
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return "", notPushed("$regex %q: %v", pattern, err)
	}
	b.args = append(b.args, pattern, pattern)
	return fmt.Sprintf(`COALESCE((%[1]s = 'string' AND rapport_regexp(?, %[2]s)) OR (%[1]s = 'array' AND EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.%[3]s') AS e WHERE %[4]s = 'string' AND rapport_regexp(?, e.value))), 0)`,
		typeOf(field), value(field), field, itemType(field)), nil
}

// The SQL function rapport_regexp(pattern, text) is 1 when text matches the Go regular expression
// pattern, for the $regex of a list's search. It is registered with the SQLite driver, for every
// connection, once per process (the driver keeps its functions that way); it holds no state.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("rapport_regexp", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		pattern, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("rapport_regexp: pattern of type %T", args[0])
		}
		text, ok := args[1].(string)
		if !ok {
			return int64(0), nil
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("rapport_regexp: %w", err)
		}
		if re.MatchString(text) {
			return int64(1), nil
		}
		return int64(0), nil
	})
}

// itemType is the stored type of the array element e of a top-level field.
func itemType(field string) string {
	return fmt.Sprintf(`json_extract(_ferretdb_sjson, '$."$s".p.%s.i[' || e.key || '].t')`, field)
}

// sqlValue is a filter value as SQLite compares it with a stored one, and its kind.
func sqlValue(v any) (kind string, arg any, err error) {
	switch x := v.(type) {
	case string:
		return "string", x, nil
	case bool:
		if x {
			return "bool", 1, nil
		}
		return "bool", 0, nil
	case int:
		return "number", int64(x), nil
	case int32:
		return "number", int64(x), nil
	case int64:
		return "number", x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", nil, notPushed("number %v", x)
		}
		return "number", x, nil
	case time.Time:
		return "date", x.UnixMilli(), nil
	case bson.DateTime:
		return "date", int64(x), nil
	}
	return "", nil, notPushed("value of type %T", v)
}

// rank orders BSON types as MongoDB sorts them: missing and null, numbers, strings, objects, arrays,
// binary data, object IDs, booleans, dates, timestamps, regular expressions.
func rank(field string) string {
	return fmt.Sprintf(`CASE %s WHEN 'int' THEN 2 WHEN 'long' THEN 2 WHEN 'double' THEN 2 WHEN 'string' THEN 3 WHEN 'object' THEN 4 WHEN 'array' THEN 5 WHEN 'binData' THEN 6 WHEN 'objectId' THEN 7 WHEN 'bool' THEN 8 WHEN 'date' THEN 9 WHEN 'timestamp' THEN 10 WHEN 'regex' THEN 11 ELSE 1 END`, typeOf(field))
}

// orderBy is the ORDER BY of a sort document: per key, the type's rank, then the value (strings in byte
// order, MongoDB's simple collation), in the key's direction.
func orderBy(sort bson.D) (string, error) {
	if len(sort) == 0 {
		return "", notPushed("no sort")
	}
	parts := make([]string, 0, 2*len(sort))
	for _, el := range sort {
		if !plainName.MatchString(el.Key) {
			return "", notPushed("sort key %q", el.Key)
		}
		dir := "ASC"
		switch fmt.Sprint(el.Value) {
		case "1":
		case "-1":
			dir = "DESC"
		default:
			return "", notPushed("sort direction %v", el.Value)
		}
		parts = append(parts, rank(el.Key)+" "+dir, value(el.Key)+" "+dir)
	}
	return strings.Join(parts, ", "), nil
}

func notPushed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", storage.ErrNotPushed, fmt.Sprintf(format, args...))
}
