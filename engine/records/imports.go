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
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
	if m == nil {
		if m, err = s.SavedMapping(ctx, e.Name); err != nil {
			return nil, nil, nil, err
		}
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
			setPath(out, cols[i], cellValue(e, cols[i], strings.TrimSpace(cell)))
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

// DryRunImport validates every row (with reference and duplicate checks) and reports each row's errors;
// nothing is written.
func (s *Store) DryRunImport(ctx context.Context, entity string, data []byte, m ImportMapping) (DryRunReport, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return DryRunReport{}, err
	}
	rows, used, ignored, err := s.parseCSV(ctx, v.Entity(), data, m)
	if err != nil {
		return DryRunReport{}, err
	}
	rep := DryRunReport{Rows: len(rows), Mapping: used, Ignored: ignored, Problems: []RowReport{}}
	opts := s.validateOpts(WriteOptions{Trusted: true})
	for _, r := range rows {
		if r.errs != nil {
			rep.Invalid++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "invalid", Errors: recordErrors(r.errs)})
			continue
		}
		norm, problems, err := v.Validate(ctx, r.record, schema.Create, opts...)
		if err != nil {
			return DryRunReport{}, fmt.Errorf("validate row %d: %w", r.row, err)
		}
		if len(problems) > 0 {
			rep.Invalid++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "invalid", Errors: recordErrors(problems)})
			continue
		}
		dup, err := s.findDuplicate(ctx, v, norm, "")
		if err != nil {
			return DryRunReport{}, err
		}
		if dup != nil {
			rep.Duplicates++
			rep.Problems = append(rep.Problems, RowReport{Row: r.row, Status: "duplicate", Duplicate: dup.ExistingID})
			continue
		}
		rep.Valid++
		if len(rep.Sample) < 3 {
			rep.Sample = append(rep.Sample, norm)
		}
	}
	return rep, nil
}

// StartImport parses the upload, records a job and imports the rows in the background, updating the
// job's progress in MongoDB. Re-importing the same rows creates no duplicates: each row's content is its
// idempotency key, and dedupe keys catch rows matching records made elsewhere.
func (s *Store) StartImport(ctx context.Context, entity string, data []byte, m ImportMapping, a ChangedBy) (ImportJob, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return ImportJob{}, err
	}
	rows, used, _, err := s.parseCSV(ctx, v.Entity(), data, m)
	if err != nil {
		return ImportJob{}, err
	}
	sum := sha256.Sum256(data)
	job := ImportJob{ID: newID(), Entity: entity, State: "running", Total: len(rows), FileHash: hex.EncodeToString(sum[:]),
		Mapping: used, CreatedAt: s.opts.Now().UTC(), CreatedBy: a.User, HeartbeatAt: s.opts.Now().UTC()}
	if _, err := s.db.Collection(ImportJobsCollection).InsertOne(ctx, job); err != nil {
		return ImportJob{}, fmt.Errorf("record import job: %w", err)
	}
	if m != nil {
		if err := s.SaveMapping(ctx, entity, used, a.User); err != nil {
			return ImportJob{}, err
		}
	}
	a.Import, a.Via = job.ID, "import"
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.runImport(context.WithoutCancel(ctx), job, rows, a)
	}()
	return job, nil
}

func (s *Store) runImport(ctx context.Context, job ImportJob, rows []parsedRow, a ChangedBy) {
	jobs := s.db.Collection(ImportJobsCollection)
	results := s.db.Collection(ImportResultsCollection)
	var batch []any
	flush := func(final bool) error {
		if len(batch) > 0 {
			if _, err := results.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false)); err != nil && !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("store import results: %w", err)
			}
			batch = batch[:0]
		}
		set := bson.D{{Key: "done", Value: job.Done}, {Key: "created", Value: job.Created}, {Key: "failed", Value: job.Failed},
			{Key: "skipped", Value: job.Skipped}, {Key: "heartbeatAt", Value: s.opts.Now().UTC()}}
		if final {
			now := s.opts.Now().UTC()
			set = append(set, bson.E{Key: "state", Value: "done"}, bson.E{Key: "finishedAt", Value: now})
		}
		if _, err := jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
			return fmt.Errorf("update import job: %w", err)
		}
		return nil
	}
	fail := func(err error) {
		s.opts.Logger.Error("import job failed", "job", job.ID, "entity", job.Entity, "error", err)
		_, _ = jobs.UpdateOne(ctx, bson.D{{Key: "_id", Value: job.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: "failed"}, {Key: "error", Value: err.Error()}, {Key: "finishedAt", Value: s.opts.Now().UTC()}}}})
	}
	for _, r := range rows {
		rep := RowReport{Row: r.row}
		if r.errs != nil {
			rep.Status, rep.Errors = "failed", recordErrors(r.errs)
		} else {
			res, err := s.Create(ctx, job.Entity, r.record, WriteOptions{Actor: a, Trusted: true, IdempotencyKey: rowKey(job.Entity, r.record)})
			var verr *ValidationError
			var dup *DuplicateError
			switch {
			case err == nil && res.Replayed:
				rep.Status, rep.RecordID, rep.Duplicate = "skipped", fmt.Sprint(res.Record[schema.SysID]), fmt.Sprint(res.Record[schema.SysID])
			case err == nil:
				rep.Status, rep.RecordID = "created", fmt.Sprint(res.Record[schema.SysID])
			case errors.As(err, &verr):
				rep.Status, rep.Errors = "failed", recordErrors(verr.Problems)
			case errors.As(err, &dup):
				rep.Status, rep.Duplicate = "skipped", dup.ExistingID
			default:
				fail(fmt.Errorf("row %d: %w", r.row, err))
				return
			}
		}
		job.Done++
		switch rep.Status {
		case "created":
			job.Created++
		case "failed":
			job.Failed++
		default:
			job.Skipped++
		}
		batch = append(batch, bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d", job.ID, r.row)}, {Key: "job", Value: job.ID},
			{Key: "row", Value: rep.Row}, {Key: "status", Value: rep.Status}, {Key: "recordId", Value: rep.RecordID},
			{Key: "duplicate", Value: rep.Duplicate}, {Key: "errors", Value: rep.Errors}})
		if len(batch) >= 100 {
			if err := flush(false); err != nil {
				fail(err)
				return
			}
		}
	}
	if err := flush(true); err != nil {
		fail(err)
	}
}

// Job returns an import job of an entity.
func (s *Store) Job(ctx context.Context, entity, id string) (ImportJob, error) {
	var j ImportJob
	err := s.db.Collection(ImportJobsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "entity", Value: entity}}).Decode(&j)
	if errors.Is(err, mongo.ErrNoDocuments) {
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

// WriteJobResults streams a job's row results as CSV: row, status, recordId, duplicate, errors.
func (s *Store) WriteJobResults(ctx context.Context, entity, id string, w io.Writer) error {
	if _, err := s.Job(ctx, entity, id); err != nil {
		return err
	}
	cur, err := s.db.Collection(ImportResultsCollection).Find(ctx, bson.D{{Key: "job", Value: id}}, options.Find().SetSort(bson.D{{Key: "row", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read import results: %w", err)
	}
	defer cur.Close(ctx)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"row", "status", "recordId", "duplicateOf", "errors"})
	for cur.Next(ctx) {
		var r RowReport
		if err := cur.Decode(&r); err != nil {
			return fmt.Errorf("decode import result: %w", err)
		}
		msgs := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			msgs[i] = e.Pointer + ": " + e.Message
		}
		_ = cw.Write([]string{strconv.Itoa(r.Row), r.Status, r.RecordID, r.Duplicate, strings.Join(msgs, "; ")})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write import results: %w", err)
	}
	return cur.Err()
}
