package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The CSV files the connector reads, one per kind of record, each with a header row.
// Columns may appear in any order; unknown columns are ignored and missing ones are
// empty, so files exported from a spreadsheet work as they are.
const (
	customersFile  = "customers.csv"
	ordersFile     = "orders.csv"
	orderLinesFile = "order_lines.csv"
	invoicesFile   = "invoices.csv"
	paymentsFile   = "payments.csv"
)

var (
	customerCols  = []string{"id", "name", "tax_id", "email", "phone", "street", "city", "postal_code", "country", "updated_at"}
	orderCols     = []string{"id", "number", "customer_id", "date", "state", "currency", "total", "reference", "updated_at", "idempotency_key"}
	orderLineCols = []string{"order_id", "product_code", "description", "quantity", "unit_price", "amount"}
)

// row is one CSV record addressed by column name.
type row map[string]string

// readTable reads a CSV file with a header row. A missing file is an empty table, so a
// fresh directory is a valid (empty) ERP.
func readTable(dir, name string) ([]row, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(records) == 0 {
		return nil, nil
	}
	header := records[0]
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")))
	}
	rows := make([]row, 0, len(records)-1)
	for _, rec := range records[1:] {
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		m := make(row, len(header))
		for i, col := range header {
			if i < len(rec) {
				m[col] = strings.TrimSpace(rec[i])
			}
		}
		rows = append(rows, m)
	}
	return rows, nil
}

// writeTable replaces a CSV file atomically: it writes a temporary file in the same
// directory, syncs it and renames it over the old one, so a crash in the middle leaves
// either the old or the new file, never half of one.
func writeTable(dir, name string, cols []string, rows []row) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	w := csv.NewWriter(tmp)
	if err := w.Write(cols); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	rec := make([]string, len(cols))
	for _, r := range rows {
		for i, c := range cols {
			rec[i] = r[c]
		}
		if err := w.Write(rec); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return nil
}

// parseTime accepts RFC 3339 timestamps and plain dates; an empty cell is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: want RFC 3339 or YYYY-MM-DD", s)
	}
	return t, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
