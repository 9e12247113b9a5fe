package records

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
)

// ImportResultsCollection keeps one result per imported row, for the downloadable report.
const ImportResultsCollection = "import_results"

// MaxImportRows caps one CSV upload.
const MaxImportRows = 100000

// ImportMapping maps CSV column headers to field paths ("name", "budget.amount"); a column mapped to "" or "-"
// is skipped. Mappings are remembered per entity.
type ImportMapping map[string]string

// ImportFormatError is an upload that cannot be imported at all: not CSV, no header, a column mapped to
// an unknown field. Row-level problems are reported per row instead.
type ImportFormatError struct{ Msg string }

// Error returns the reason.
func (e *ImportFormatError) Error() string { return e.Msg }

// RowReport is the outcome of one CSV row (1-based, the header being row 0).
type RowReport struct {
	Row       int           `bson:"row" json:"row"`
	Status    string        `bson:"status" json:"status"` // valid, invalid, duplicate; created, failed, skipped
	RecordID  string        `bson:"recordId,omitempty" json:"recordId,omitempty"`
	Errors    []RecordError `bson:"errors,omitempty" json:"errors,omitempty"`
	Duplicate string        `bson:"duplicate,omitempty" json:"duplicate,omitempty"`
}

// DryRunReport is what an import would do, row by row, without writing anything.
type DryRunReport struct {
	Rows       int              `json:"rows"`
	Valid      int              `json:"valid"`
	Invalid    int              `json:"invalid"`
	Duplicates int              `json:"duplicates"`
	Mapping    ImportMapping    `json:"mapping"`
	Problems   []RowReport      `json:"problems"`
	Ignored    []string         `json:"ignoredColumns,omitempty"`
	Sample     []map[string]any `json:"sample,omitempty"`
}

// ImportJob is a background import and its progress.
type ImportJob struct {
	ID         string        `bson:"_id" json:"id"`
	Entity     string        `bson:"entity" json:"entity"`
	State      string        `bson:"state" json:"state"` // running, done, failed
	Total      int           `bson:"total" json:"total"`
	Done       int           `bson:"done" json:"done"`
	Created    int           `bson:"created" json:"created"`
	Failed     int           `bson:"failed" json:"failed"`
	Skipped    int           `bson:"skipped" json:"skipped"`
	FileHash   string        `bson:"fileHash" json:"fileHash"`
	Mapping    ImportMapping `bson:"mapping" json:"mapping"`
	CreatedAt  time.Time     `bson:"createdAt" json:"createdAt"`
	CreatedBy  string        `bson:"createdBy,omitempty" json:"createdBy,omitempty"`
	FinishedAt *time.Time    `bson:"finishedAt,omitempty" json:"finishedAt,omitempty"`
	Error      string        `bson:"error,omitempty" json:"error,omitempty"`
	// HeartbeatAt is refreshed while the job runs; a running job whose heartbeat is older than
	// jobStale was interrupted (its server stopped) and is reported as failed.
	HeartbeatAt time.Time `bson:"heartbeatAt" json:"heartbeatAt"`
}

type mappingDoc struct {
	ID        string        `bson:"_id"`
	Mapping   ImportMapping `bson:"mapping"`
	UpdatedAt time.Time     `bson:"updatedAt"`
	UpdatedBy string        `bson:"updatedBy,omitempty"`
}

// SavedMapping returns the column mapping last used for an entity, or nil.
func (s *Store) SavedMapping(ctx context.Context, entity string) (ImportMapping, error) {
	var d mappingDoc
	err := s.db.Collection(ImportMappingsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: entity}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read import mapping of %s: %w", entity, err)
	}
	return d.Mapping, nil
}

// SaveMapping remembers a column mapping for an entity's next imports.
func (s *Store) SaveMapping(ctx context.Context, entity string, m ImportMapping, by string) error {
	_, err := s.db.Collection(ImportMappingsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: entity}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "mapping", Value: m}, {Key: "updatedAt", Value: s.opts.Now().UTC()}, {Key: "updatedBy", Value: by}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save import mapping of %s: %w", entity, err)
	}
	return nil
}

type parsedRow struct {
	row    int
	record map[string]any
	errs   []schema.FieldError
}

// parseCSV reads the upload and turns each row into a record by the mapping: the given one, else the
// remembered one, else columns named like fields (by name or label, case-insensitively).
func (s *Store) parseCSV(ctx context.Context, e schema.Entity, data []byte, m ImportMapping) ([]parsedRow, ImportMapping, []string, error) {
	if m == nil {
		var err error
		if m, err = s.SavedMapping(ctx, e.Name); err != nil {
			return nil, nil, nil, err
		}
	}
	return mapRows(e, data, m)
}

// mapRows is the CSV row mapper: it reads the header, resolves each column to a field path (m, else a
// field named or labelled like the column), and converts every row's cells to a record. It reads
// nothing but its input, so it can be fuzzed.
func mapRows(e schema.Entity, data []byte, m ImportMapping) ([]parsedRow, ImportMapping, []string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, nil, &ImportFormatError{Msg: "the file is empty: the first line must name the columns"}
	}
	if err != nil {
		return nil, nil, nil, &ImportFormatError{Msg: "not a CSV file: " + err.Error()}
	}
	if r.FieldsPerRecord = len(header); len(header) == 1 && strings.Count(header[0], ";") > 0 {
		return nil, nil, nil, &ImportFormatError{Msg: "the file uses ';' as separator; export it with ','"}
	}
	cols := make([]string, len(header))
	var ignored []string
	used := ImportMapping{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		target, ok := m[h]
		if !ok {
			target = guessField(e, h)
		}
		if target == "" || target == "-" {
			ignored = append(ignored, h)
			continue
		}
		if fieldAt(e, target) == nil {
			return nil, nil, nil, &ImportFormatError{Msg: fmt.Sprintf("column %q is mapped to %q, which is not a field of %s", h, target, e.Name)}
		}
		cols[i] = target
		used[h] = target
	}
	if len(used) == 0 {
		return nil, nil, nil, &ImportFormatError{Msg: fmt.Sprintf("no column matches a field of %s; send a mapping", e.Name)}
	}
	var rows []parsedRow
	for n := 1; ; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if n > MaxImportRows {
			return nil, nil, nil, &ImportFormatError{Msg: fmt.Sprintf("the file has more than %d rows; split it", MaxImportRows)}
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				rows = append(rows, parsedRow{row: n, errs: []schema.FieldError{{Pointer: "", Message: fmt.Sprintf("has %d cells, the header has %d", len(rec), len(header))}}})
				continue
			}
			return nil, nil, nil, &ImportFormatError{Msg: fmt.Sprintf("row %d: %v", n, err)}
		}
		out := map[string]any{}
		for i, cell := range rec {
			if i >= len(cols) || cols[i] == "" || strings.TrimSpace(cell) == "" {
				continue
			}
			setPath(out, cols[i], cellValue(e, cols[i], unneutralise(strings.TrimSpace(cell))))
		}
		rows = append(rows, parsedRow{row: n, record: out})
	}
	return rows, used, ignored, nil
}

func guessField(e schema.Entity, h string) string {
	for i := range e.Fields {
		f := &e.Fields[i]
		if strings.EqualFold(f.Name, h) || (f.Label.En != "" && strings.EqualFold(f.Label.En, h)) || (f.Label.Ru != "" && strings.EqualFold(f.Label.Ru, h)) {
			return f.Name
		}
	}
	if fieldAt(e, h) != nil {
		return h
	}
	return ""
}

// fieldAt finds the field at a dotted path; money's parts are "amount" and "currency".
func fieldAt(e schema.Entity, path string) *schema.Field {
	parts := strings.Split(path, ".")
	f := e.Field(parts[0])
	for _, p := range parts[1:] {
		if f == nil {
			return nil
		}
		switch f.Type {
		case schema.TypeMoney:
			switch p {
			case "amount":
				return &schema.Field{Name: p, Type: schema.TypeDecimal}
			case "currency":
				return &schema.Field{Name: p, Type: schema.TypeString}
			}
			return nil
		case schema.TypeObject:
			var next *schema.Field
			for i := range f.Fields {
				if f.Fields[i].Name == p {
					next = &f.Fields[i]
				}
			}
			f = next
		default:
			return nil
		}
	}
	return f
}

func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// cellValue converts a CSV cell to the JSON value the field takes; a cell that does not convert is kept
// as text so validation reports it against the right field.
func cellValue(e schema.Entity, path, cell string) any {
	f := fieldAt(e, path)
	if f == nil {
		return cell
	}
	return convertCell(f, cell)
}

func convertCell(f *schema.Field, cell string) any {
	switch f.Type {
	case schema.TypeInteger, schema.TypeDecimal:
		if n, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(cell, " ", ""), ",", "."), 64); err == nil {
			return n
		}
	case schema.TypeBoolean:
		switch strings.ToLower(cell) {
		case "true", "yes", "1", "да", "y":
			return true
		case "false", "no", "0", "нет", "n":
			return false
		}
	case schema.TypeMoney:
		amount, currency, _ := strings.Cut(cell, " ")
		m := map[string]any{"amount": convertCell(&schema.Field{Type: schema.TypeDecimal}, amount)}
		if currency != "" {
			m["currency"] = strings.TrimSpace(currency)
		}
		return m
	case schema.TypeList:
		var out []any
		for _, part := range strings.Split(cell, ";") {
			if part = strings.TrimSpace(part); part != "" {
				if f.Item != nil {
					out = append(out, convertCell(f.Item, part))
				} else {
					out = append(out, part)
				}
			}
		}
		return out
	case schema.TypeObject:
		var m map[string]any
		if json.Unmarshal([]byte(cell), &m) == nil {
			return m
		}
	}
	return cell
}

// rowKey identifies a row's content, so importing the same row again finds the record it created.
func rowKey(entity string, rec map[string]any) string {
	b, _ := json.Marshal(rec)
	h := sha256.Sum256(append([]byte(entity+"\n"), b...))
	return "import:" + hex.EncodeToString(h[:])
}

// rowProblems turns a refused row into its errors: validation problems, or the fields the importing
// user may not write (as the API's create would refuse them).
func rowProblems(err error) ([]RecordError, bool) {
	var verr *ValidationError
	var fe *access.FieldError
	switch {
	case errors.As(err, &verr):
		return recordErrors(verr.Problems), true
	case errors.As(err, &fe):
		out := make([]RecordError, len(fe.Fields))
		for i, f := range fe.Fields {
			out[i] = RecordError{Pointer: "/" + strings.ReplaceAll(f, ".", "/"), Message: "may not be written by you"}
		}
		return out, true
	}
	return nil, false
}

// DryRunImport checks every row exactly as the import would — the importing user's access, validation
// with reference lookups, the entity's rules, duplicates against stored records and earlier rows — and
// reports each row's problems; nothing is written. o carries the importing user (Actor, Access).
func (s *Store) DryRunImport(ctx context.Context, entity string, data []byte, m ImportMapping, o WriteOptions) (DryRunReport, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return DryRunReport{}, err
	}
	rows, used, ignored, err := s.parseCSV(ctx, v.Entity(), data, m)
	if err != nil {
		return DryRunReport{}, err
	}
	o = importOptions(o, "")
	d := o.decision(entity)
	rep := DryRunReport{Rows: len(rows), Mapping: used, Ignored: ignored, Problems: []RowReport{}}
	inFile := map[string]bool{}
	for _, r := range rows {
		if r.errs != nil {
			rep.Invalid++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "invalid", Errors: recordErrors(r.errs)})
			continue
		}
		norm, err := s.prepare(ctx, v, r.record, o)
		if errs, ok := rowProblems(err); ok {
			rep.Invalid++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "invalid", Errors: errs})
			continue
		}
		if err != nil {
			return DryRunReport{}, fmt.Errorf("check row %d: %w", r.row, err)
		}
		dup, err := s.probeKeys(ctx, entity, v, recordKeys(v, norm), inFile, d)
		if err != nil {
			return DryRunReport{}, err
		}
		if dup != nil {
			rep.Duplicates++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "duplicate", Duplicate: dup.ExistingID,
				Errors: []RecordError{{Pointer: "/" + dup.Field, Message: "duplicates another record"}}})
			continue
		}
		rep.Valid++
		if len(rep.Sample) < 3 {
			rep.Sample = append(rep.Sample, norm)
		}
	}
	return rep, nil
}

// probeKeys reports, without claiming anything, whether a record's keys are held by a stored record or
// by an earlier row of the same file (seen, which it extends).
func (s *Store) probeKeys(ctx context.Context, entity string, v *schema.Validator, keys []recordKey, seen map[string]bool, d *access.Decision) (*DuplicateError, error) {
	for _, k := range keys {
		if seen[k.ID] {
			return &DuplicateError{Field: k.Field}, nil
		}
		var kd keyDoc
		err := s.db.Collection(KeysCollection).FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&kd)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the %s key: %w", k.Field, err)
		}
		if dup, err := s.heldBy(ctx, entity, v, k, kd, d); err != nil || dup != nil {
			return dup, err
		}
	}
	for _, k := range keys {
		seen[k.ID] = true
	}
	return nil, nil
}

// importOptions are the write options of an import's rows: the importing user's, through "import".
func importOptions(o WriteOptions, job string) WriteOptions {
	o.Actor.Via, o.Actor.Import = "import", job
	o.IfMatch, o.IdempotencyKey = 0, ""
	return o
}

// importBatch is how many rows an import writes at once: each batch is one insert of idempotency
// claims, one of keys and one of records, so the cost per row stays flat however large the file.
const importBatch = 250

// StartImport parses the upload, records a job and imports the rows in the background, updating the
// job's progress after every batch. Each row goes through exactly the checks of the API's create for the
// importing user (o: Actor and Access): access, validation, rules, references, duplicates. Re-importing
// the same rows creates no duplicates: each row's content is its idempotency key, and record keys catch
// rows matching records made elsewhere or earlier in the file.
func (s *Store) StartImport(ctx context.Context, entity string, data []byte, m ImportMapping, o WriteOptions) (ImportJob, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return ImportJob{}, err
	}
	rows, used, _, err := s.parseCSV(ctx, v.Entity(), data, m)
	if err != nil {
		return ImportJob{}, err
	}
	sum := sha256.Sum256(data)
	now := s.opts.Now().UTC()
	job := ImportJob{ID: newID(), Entity: v.Entity().Name, State: "running", Total: len(rows), FileHash: hex.EncodeToString(sum[:]),
		Mapping: used, CreatedAt: now, CreatedBy: o.Actor.User, HeartbeatAt: now}
	if _, err := s.db.Collection(ImportJobsCollection).InsertOne(ctx, job); err != nil {
		return ImportJob{}, fmt.Errorf("record import job: %w", err)
	}
	if m != nil {
		if err := s.SaveMapping(ctx, job.Entity, used, o.Actor.User); err != nil {
			return ImportJob{}, err
		}
	}
	o = importOptions(o, job.ID)
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.runImport(context.WithoutCancel(ctx), v, job, rows, o)
	}()
	return job, nil
}

// pendingRow is a valid row on its way into the store.
type pendingRow struct {
	rep  *RowReport
	norm map[string]any
	id   string
	idem *idemDoc
	keys []recordKey
	// claimed are the keys this row holds so far, released if it does not get stored.
	claimed []recordKey
	done    bool
}

func (s *Store) runImport(ctx context.Context, v *schema.Validator, job ImportJob, rows []parsedRow, o WriteOptions) {
	jobs := s.db.Collection(ImportJobsCollection)
	fail := func(err error) {
		s.opts.Logger.Error("import job failed", "job", job.ID, "entity", job.Entity, "error", err)
		_, _ = jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: "failed"}, {Key: "error", Value: err.Error()}, {Key: "finishedAt", Value: s.opts.Now().UTC()}}}})
	}
	for start := 0; start < len(rows); start += importBatch {
		select {
		case <-s.stopping:
			fail(errors.New(errInterrupted))
			return
		default:
		}
		batch := rows[start:min(start+importBatch, len(rows))]
		reps, err := s.importBatch(ctx, v, batch, o)
		if err != nil {
			fail(err)
			return
		}
		results := make([]any, len(reps))
		for i, rep := range reps {
			job.Done++
			switch rep.Status {
			case "created":
				job.Created++
			case "failed":
				job.Failed++
			default:
				job.Skipped++
			}
			results[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d", job.ID, rep.Row)}, {Key: "job", Value: job.ID},
				{Key: "row", Value: rep.Row}, {Key: "status", Value: rep.Status}, {Key: "recordId", Value: rep.RecordID},
				{Key: "duplicate", Value: rep.Duplicate}, {Key: "errors", Value: rep.Errors}}
		}
		if _, err := s.db.Collection(ImportResultsCollection).InsertMany(ctx, results, options.InsertMany().SetOrdered(false)); err != nil && !mongo.IsDuplicateKeyError(err) {
			fail(fmt.Errorf("store import results: %w", err))
			return
		}
		set := bson.D{{Key: "done", Value: job.Done}, {Key: "created", Value: job.Created}, {Key: "failed", Value: job.Failed},
			{Key: "skipped", Value: job.Skipped}, {Key: "heartbeatAt", Value: s.opts.Now().UTC()}}
		if job.Done == job.Total {
			set = append(set, bson.E{Key: "state", Value: "done"}, bson.E{Key: "finishedAt", Value: s.opts.Now().UTC()})
		}
		if _, err := jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
			fail(fmt.Errorf("update import job: %w", err))
			return
		}
	}
	if len(rows) == 0 {
		now := s.opts.Now().UTC()
		_, _ = jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: "done"}, {Key: "finishedAt", Value: now}, {Key: "heartbeatAt", Value: now}}}})
	}
}

// importBatch stores one batch of rows and returns each row's outcome. Rows are checked one by one
// (prepare, as a create), then written together: idempotency claims, keys and records each with one
// unordered insert, the few that collide resolved one by one.
func (s *Store) importBatch(ctx context.Context, v *schema.Validator, batch []parsedRow, o WriteOptions) ([]RowReport, error) {
	entity := v.Entity().Name
	d := o.decision(entity)
	reps := make([]RowReport, len(batch))
	var pend []*pendingRow
	now := s.opts.Now().UTC()
	for i, r := range batch {
		reps[i] = RowReport{Row: r.row}
		rep := &reps[i]
		if r.errs != nil {
			rep.Status, rep.Errors = "failed", recordErrors(r.errs)
			continue
		}
		norm, err := s.prepare(ctx, v, r.record, o)
		if errs, ok := rowProblems(err); ok {
			rep.Status, rep.Errors = "failed", errs
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", r.row, err)
		}
		id := newID()
		ro := o
		ro.IdempotencyKey = rowKey(entity, r.record)
		pend = append(pend, &pendingRow{rep: rep, norm: norm, id: id, keys: recordKeys(v, norm),
			idem: &idemDoc{ID: s.idemID(entity, ro), RecordID: id, Hash: bodyHash(r.record), CreatedAt: now}})
	}
	// 1. Idempotency claims: a row imported before is skipped, naming its record.
	idemDocs := make([]any, len(pend))
	for i, p := range pend {
		idemDocs[i] = p.idem
	}
	clash, err := insertAll(ctx, s.db.Collection(IdempotencyCollection), idemDocs)
	if err != nil {
		return nil, fmt.Errorf("claim import rows: %w", err)
	}
	for i := range clash {
		p := pend[i]
		res, replay, err := s.reclaim(ctx, entity, p.idem)
		switch {
		case err == nil && replay:
			p.done = true
			p.rep.Status = "skipped"
			if d == nil || d.InScope(access.ActionRead, res.Record) {
				p.rep.RecordID = fmt.Sprint(res.Record[schema.SysID])
				p.rep.Duplicate = p.rep.RecordID
			}
		case err == nil:
		case errors.Is(err, ErrInProgress):
			p.done = true
			p.rep.Status, p.rep.Errors = "failed", []RecordError{{Message: "another import of the same row is still running"}}
		default:
			return nil, err
		}
	}
	// 2. Keys: the first row (or stored record) holding a value keeps it; later ones are duplicates.
	var keyDocs []any
	var owners []*pendingRow
	var owned []recordKey
	for _, p := range pend {
		if p.done {
			continue
		}
		for _, k := range p.keys {
			keyDocs = append(keyDocs, keyDoc{ID: k.ID, RecordID: p.id, At: now})
			owners, owned = append(owners, p), append(owned, k)
		}
	}
	clash, err = insertAll(ctx, s.db.Collection(KeysCollection), keyDocs)
	if err != nil {
		return nil, fmt.Errorf("claim import keys: %w", err)
	}
	for i, p := range owners {
		if !clash[i] {
			p.claimed = append(p.claimed, owned[i])
		}
	}
	for i, p := range owners {
		if !clash[i] || p.done {
			continue
		}
		took, err := s.claimKey(ctx, entity, v, owned[i], p.id, d)
		var dup *DuplicateError
		switch {
		case errors.As(err, &dup):
			p.done = true
			p.rep.Status, p.rep.Duplicate = "skipped", dup.ExistingID
		case err != nil:
			return nil, err
		case took:
			p.claimed = append(p.claimed, owned[i])
		}
	}
	// 3. Records.
	var docs []any
	var writers []*pendingRow
	for _, p := range pend {
		if p.done {
			continue
		}
		docs = append(docs, s.newDoc(p.norm, p.id, o.Actor))
		writers = append(writers, p)
	}
	clash, err = insertAll(ctx, s.coll(entity), docs)
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", entity, err)
	}
	for i, p := range writers {
		if clash[i] {
			p.rep.Status, p.rep.Errors = "failed", []RecordError{{Message: "a unique field duplicates another record"}}
			continue
		}
		p.done = true
		p.rep.Status, p.rep.RecordID = "created", p.id
		rec := toRecord(docs[i].(bson.M))
		s.history.add(ctx, createEntryOf(entity, rec, o.Actor))
		s.changed(ctx, entity, "created", rec, nil)
	}
	// Rows that were not stored give back what they claimed.
	for _, p := range pend {
		if p.rep.Status == "created" {
			continue
		}
		s.releaseKeys(ctx, p.claimed, p.id)
		if p.idem != nil {
			// Conditional on this row's record ID: a claim naming an earlier import's record stays.
			_, _ = s.be().DeleteIf(context.WithoutCancel(ctx), s.db.Collection(IdempotencyCollection), p.idem.ID, "recordId", p.id)
		}
	}
	return reps, nil
}

// insertAll inserts docs with one unordered insert and reports which of them collided with an existing
// _id (or unique index); any other failure is an error.
func insertAll(ctx context.Context, coll *mongo.Collection, docs []any) (map[int]bool, error) {
	clash := map[int]bool{}
	if len(docs) == 0 {
		return clash, nil
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return clash, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return nil, err
	}
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return nil, err
		}
		clash[we.Index] = true
	}
	return clash, nil
}

// Job returns an import job of an entity.
func (s *Store) Job(ctx context.Context, entity, id string) (ImportJob, error) {
	var j ImportJob
	err := s.db.Collection(ImportJobsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&j)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && j.Entity != entity {
		return ImportJob{}, fmt.Errorf("import job %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return ImportJob{}, fmt.Errorf("read import job: %w", err)
	}
	if j.State == "running" && s.opts.Now().Sub(j.HeartbeatAt) > jobStale {
		j.State = "failed"
		j.Error = errInterrupted
	}
	return j, nil
}

// jobStale is how long a running import may go without a heartbeat before it counts as interrupted.
const jobStale = 2 * time.Minute

const errInterrupted = "interrupted: the server stopped during the import; run the file again — rows already imported are skipped"

// failInterruptedJobs marks running imports without a recent heartbeat as failed, so a restart leaves no
// job "running" for ever.
func (s *Store) failInterruptedJobs(ctx context.Context) error {
	now := s.opts.Now().UTC()
	_, err := s.db.Collection(ImportJobsCollection).UpdateMany(ctx,
		bson.D{{Key: "state", Value: "running"}, {Key: "heartbeatAt", Value: bson.D{{Key: "$lt", Value: now.Add(-jobStale)}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "failed"}, {Key: "error", Value: errInterrupted}, {Key: "finishedAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("mark interrupted imports: %w", err)
	}
	return nil
}

// WriteJobResults streams a job's row results as CSV: row, status, recordId, duplicate, errors. Results
// are read by _id (job/row), so the cost follows the job's size, not every import ever run.
func (s *Store) WriteJobResults(ctx context.Context, entity, id string, w io.Writer) error {
	j, err := s.Job(ctx, entity, id)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"row", "status", "recordId", "duplicateOf", "errors"})
	const chunk = 500
	for from := 1; from <= j.Total; from += chunk {
		var ids []string
		for row := from; row < from+chunk && row <= j.Total; row++ {
			ids = append(ids, fmt.Sprintf("%s/%d", id, row))
		}
		var got []RowReport
		err := s.be().FindIDs(ctx, s.db.Collection(ImportResultsCollection), ids, nil, func(raw bson.Raw) error {
			var r RowReport
			if err := bson.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode import result: %w", err)
			}
			got = append(got, r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read import results: %w", err)
		}
		slices.SortFunc(got, func(a, b RowReport) int { return a.Row - b.Row })
		for _, r := range got {
			msgs := make([]string, len(r.Errors))
			for i, e := range r.Errors {
				msgs[i] = e.Pointer + ": " + e.Message
			}
			_ = cw.Write([]string{strconv.Itoa(r.Row), r.Status, r.RecordID, r.Duplicate, strings.Join(msgs, "; ")})
		}
		cw.Flush()
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write import results: %w", err)
	}
	return nil
}
