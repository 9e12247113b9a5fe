package records

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
)

// Export streams every record matching p (its Cursor and Limit are ignored) to fn, in p's sort order,
// without holding the whole list in memory. The reader's export scope applies (p.Access).
func (s *Store) Export(ctx context.Context, entity string, p ListParams, fn func(Record) error) error {
	info, err := s.Schema(ctx, entity)
	if err != nil {
		return err
	}
	q, err := s.CompileExport(ctx, info.Entity, p)
	if err != nil {
		return err
	}
	opts := options.Find().SetSort(q.Sort).SetBatchSize(500)
	if q.Projection != nil {
		opts.SetProjection(q.Projection)
	}
	cur, err := s.coll(entity).Find(ctx, q.Filter, opts)
	if err != nil {
		return fmt.Errorf("export %s: %w", entity, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var doc bson.M
		if err := cur.Decode(&doc); err != nil {
			return fmt.Errorf("export %s: %w", entity, err)
		}
		r := toRecord(doc)
		if p.Access != nil {
			r = p.Access.Strip(r)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("export %s: %w", entity, err)
	}
	return nil
}

// CompileExport checks an export's parameters and translates them, with the reader's export scope, into
// the query Export runs; the API calls it before it starts streaming, so bad parameters are a 400.
func (s *Store) CompileExport(ctx context.Context, e schema.Entity, p ListParams) (Query, error) {
	return s.compile(e, p, access.ActionExport)
}

// ExportColumns are the CSV columns of an export: the requested fields, or the record ID, every
// top-level field and the system fields.
func ExportColumns(e schema.Entity, fields string) []string {
	if strings.TrimSpace(fields) != "" {
		cols := []string{schema.SysID}
		for _, f := range strings.Split(fields, ",") {
			if f = strings.TrimSpace(f); f != "" && f != schema.SysID {
				cols = append(cols, f)
			}
		}
		return cols
	}
	cols := []string{schema.SysID}
	for _, f := range e.Fields {
		cols = append(cols, f.Name)
	}
	return append(cols, schema.SysVersion, schema.SysCreatedAt, schema.SysUpdatedAt, schema.SysCreatedBy, schema.SysUpdatedBy)
}

// WriteCSV streams the export as CSV with a header line. Money is written "amount currency" and lists
// joined with "; " (the forms import reads back); nested objects are JSON.
func (s *Store) WriteCSV(ctx context.Context, entity string, p ListParams, w io.Writer) error {
	info, err := s.Schema(ctx, entity)
	if err != nil {
		return err
	}
	cols := ExportColumns(info.Entity, p.Fields)
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	row := make([]string, len(cols))
	n := 0
	err = s.Export(ctx, entity, p, func(r Record) error {
		for i, c := range cols {
			row[i] = Neutralise(cellText(lookupPlain(r, c)))
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write CSV: %w", err)
		}
		if n++; n%500 == 0 {
			cw.Flush()
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// WriteJSONLines streams the export as JSON Lines: one record per line.
func (s *Store) WriteJSONLines(ctx context.Context, entity string, p ListParams, w io.Writer) error {
	enc := json.NewEncoder(w)
	return s.Export(ctx, entity, p, func(r Record) error {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write JSON line: %w", err)
		}
		return nil
	})
}

// formulaStart are the characters a spreadsheet reads as the start of a formula (OWASP CSV injection).
const formulaStart = "=+-@\t\r"

// Neutralise makes a CSV cell safe to open in a spreadsheet: a cell starting with = + - @ tab or
// carriage return gets a leading apostrophe, so it is shown as text instead of run as a formula. Plain
// numbers ("-12.5") are left alone. Import takes the apostrophe off again (see convertCell).
func Neutralise(cell string) string {
	if cell == "" || !strings.ContainsRune(formulaStart, rune(cell[0])) {
		return cell
	}
	if _, err := strconv.ParseFloat(cell, 64); err == nil {
		return cell
	}
	return "'" + cell
}

// unneutralise undoes Neutralise on an imported cell.
func unneutralise(cell string) string {
	if len(cell) >= 2 && cell[0] == '\'' && strings.ContainsRune(formulaStart, rune(cell[1])) {
		return cell[1:]
	}
	return cell
}

func lookupPlain(r Record, path string) any {
	var cur any = map[string]any(r)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case map[string]any:
		if a, ok := x["amount"]; ok && len(x) <= 2 {
			if c, ok := x["currency"].(string); ok {
				return fmt.Sprint(a) + " " + c
			}
		}
	case []any:
		parts := make([]string, len(x))
		simple := true
		for i, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				simple = false
			}
			parts[i] = cellText(e)
		}
		if simple {
			return strings.Join(parts, "; ")
		}
	case float64, int64, int32, int, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
