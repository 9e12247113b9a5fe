package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/schemas"
)

// The customer fields the segment run writes (schemas/entities: company and contact). They are
// read-only for people; the run writes them through the records store, so the record's history shows
// every move with the rule that made it.
const (
	FieldRecency      = "rfmRecency"
	FieldFrequency    = "rfmFrequency"
	FieldMonetary     = "rfmMonetary"
	FieldSegment      = "segment"
	FieldSegmentRule  = "segmentRule"
	FieldSegmentSince = "segmentSince"
)

// DefaultRules is the key of the segment decision table shipped for a customer entity.
func DefaultRules(customer string) string { return "rfm-segments-" + customer }

// installRules creates and publishes the default segment tables that do not exist yet. An analyst's
// later edits are new versions and are never overwritten.
func (e *Engine) installRules(ctx context.Context) error {
	if e.opts.Rulesets == nil {
		return nil
	}
	defs, err := schemas.Rules()
	if err != nil {
		return err
	}
	for _, d := range defs {
		rs, err := rules.ParseRuleSet(d.JSON)
		if err != nil {
			return fmt.Errorf("default rule set %s: %w", d.Name, err)
		}
		if _, err := e.opts.Rulesets.Create(ctx, rs, "system"); err != nil {
			if errors.Is(err, rulesets.ErrExists) {
				continue
			}
			return fmt.Errorf("install rule set %s: %w", d.Name, err)
		}
		_, _, err = e.opts.Rulesets.Publish(ctx, rs.Key, "system", "shipped with Rapport", 0, e.opts.Now())
		if err != nil && !errors.Is(err, rulesets.ErrUnchanged) && !errors.Is(err, rulesets.ErrConflict) {
			return fmt.Errorf("publish rule set %s: %w", d.Name, err)
		}
	}
	return nil
}

// SegmentParams configure a segment run.
type SegmentParams struct {
	// Customer is "company" or "contact".
	Customer string
	// Period is the window the scores are computed over.
	Period Period
	// Rules is the key of a published decision_table rule set over the customer entity whose single
	// output (or output named "segment") is the segment; DefaultRules(Customer) when empty.
	Rules string
	// Actor is who the history names: the user who asked, or nobody for a scheduled run.
	Actor records.ChangedBy
	// Progress, when set, is told how many customers were handled (for activity heartbeats).
	Progress func(done int)
}

// SegmentRun is what a segment run did.
type SegmentRun struct {
	Customer string `json:"customer"`
	Period   Period `json:"period"`
	Rules    string `json:"rules"`
	Version  int    `json:"version"`
	// Customers were read; Scored had orders in the period; Changed were written; Failed could not be.
	Customers int `json:"customers"`
	Scored    int `json:"scored"`
	Changed   int `json:"changed"`
	Failed    int `json:"failed"`
	// Segments counts the customers per segment after the run ("" for none).
	Segments map[string]int `json:"segments"`
	// Errors holds the first problems met (at most 10), naming the customer.
	Errors []string `json:"errors,omitempty"`
}

// segmentTable is a published segment table ready to evaluate.
type segmentTable struct {
	compiled *rules.Compiled
	version  rulesets.Version
}

func (e *Engine) segmentTable(ctx context.Context, customer, key string) (*segmentTable, error) {
	if key == "" {
		key = DefaultRules(customer)
	}
	c, ver, err := e.opts.Rulesets.Published(ctx, key, 0)
	if err != nil {
		return nil, &InputError{Param: "rules", Message: fmt.Sprintf("rule set %q: %v", key, err)}
	}
	rs := c.RuleSet()
	if rs.Kind != rules.KindDecisionTable || rs.Entity != customer {
		return nil, &InputError{Param: "rules", Message: fmt.Sprintf("rule set %q must be a decision_table over %s records, not a %s over %q", key, customer, rs.Kind, rs.Entity)}
	}
	outs := rs.Table.Outputs
	if len(outs) != 1 && !slices.ContainsFunc(outs, func(o rules.OutputColumn) bool { return o.Name == "segment" }) {
		return nil, &InputError{Param: "rules", Message: fmt.Sprintf("rule set %q must have one output column or one named segment", key)}
	}
	if strings.ToUpper(rs.Table.HitPolicy) == rules.HitCollect {
		return nil, &InputError{Param: "rules", Message: fmt.Sprintf("rule set %q must pick one row (hit policy FIRST, UNIQUE, PRIORITY or ANY), not COLLECT", key)}
	}
	return &segmentTable{compiled: c, version: ver}, nil
}

// decide evaluates the table over a customer record with its scores; it returns the segment ("" when no
// row matches) and the rule that decided, e.g. "rfm-segments-company v2 row 3".
func (t *segmentTable) decide(rec map[string]any, now time.Time) (string, string, error) {
	o, err := t.compiled.Evaluate(rec, now)
	if err != nil {
		return "", "", err
	}
	if o.Table == nil || o.Table.Output == nil {
		return "", "", nil
	}
	out := o.Table.Output
	if m, ok := out.(map[string]any); ok {
		out = m["segment"]
	}
	seg, ok := out.(string)
	if !ok {
		return "", "", fmt.Errorf("the segment table gave %v (%T), not a segment name", out, out)
	}
	rows := make([]string, len(o.Table.Rows))
	for i, r := range o.Table.Rows {
		rows[i] = fmt.Sprint(r)
	}
	return seg, fmt.Sprintf("%s v%d row %s", t.version.Key, t.version.Version, strings.Join(rows, ",")), nil
}

// RecomputeSegments scores every customer over the period, decides its segment with the published table
// and stores scores and segment on the customer record where they changed, through the records store
// (validation, history, triggers). A customer without orders in the period has its scores removed and
// is decided with scores 0. Failures of single customers are counted and reported, never fatal.
func (e *Engine) RecomputeSegments(ctx context.Context, p SegmentParams) (*SegmentRun, error) {
	if err := checkCustomer(p.Customer); err != nil {
		return nil, err
	}
	if e.opts.Records == nil || e.opts.Rulesets == nil {
		return nil, errors.New("analytics: segment runs need the records and rule set stores")
	}
	table, err := e.segmentTable(ctx, p.Customer, p.Rules)
	if err != nil {
		return nil, err
	}
	cs, err := e.Customers(ctx, nil, CustomerParams{Customer: p.Customer, Period: p.Period}, CLVParams{})
	if err != nil {
		return nil, err
	}
	scores := make(map[string]*Customer, len(cs))
	for i := range cs {
		scores[cs[i].ID] = &cs[i]
	}
	run := &SegmentRun{Customer: p.Customer, Period: p.Period, Rules: table.version.Key, Version: table.version.Version, Scored: len(cs), Segments: map[string]int{}}
	type change struct {
		id    string
		patch map[string]any
	}
	var changes []change
	now := e.opts.Now().UTC().Truncate(time.Millisecond)
	fail := func(id string, err error) {
		run.Failed++
		if len(run.Errors) < 10 {
			run.Errors = append(run.Errors, fmt.Sprintf("%s %s: %v", p.Customer, id, err))
		}
	}
	// First decide every customer while reading, then write: no write runs under an open cursor.
	err = e.opts.Records.Export(ctx, p.Customer, records.ListParams{Sort: schema.SysID}, func(rec records.Record) error {
		run.Customers++
		id, _ := rec[schema.SysID].(string)
		want := map[string]any{FieldRecency: nil, FieldFrequency: nil, FieldMonetary: nil}
		vars := make(map[string]any, len(rec)+3)
		for k, v := range rec {
			vars[k] = v
		}
		vars[FieldRecency], vars[FieldFrequency], vars[FieldMonetary] = int64(0), int64(0), int64(0)
		if c := scores[id]; c != nil {
			want[FieldRecency], want[FieldFrequency], want[FieldMonetary] = int64(c.R), int64(c.F), int64(c.M)
			vars[FieldRecency], vars[FieldFrequency], vars[FieldMonetary] = int64(c.R), int64(c.F), int64(c.M)
		}
		seg, rule, err := table.decide(vars, now)
		if err != nil {
			fail(id, err)
			return nil
		}
		want[FieldSegment], want[FieldSegmentRule] = nilIfEmpty(seg), nilIfEmpty(rule)
		old, _ := rec[FieldSegment].(string)
		if seg != old {
			want[FieldSegmentSince] = nil
			if seg != "" {
				want[FieldSegmentSince] = now.Format(time.RFC3339Nano)
			}
		}
		run.Segments[seg]++
		patch := map[string]any{}
		for k, v := range want {
			if !storage.SameValue(rec[k], v) {
				patch[k] = v
			}
		}
		if len(patch) > 0 {
			changes = append(changes, change{id: id, patch: patch})
		}
		if p.Progress != nil && run.Customers%500 == 0 {
			p.Progress(run.Customers)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range changes {
		if _, err := e.opts.Records.Patch(ctx, p.Customer, c.id, c.patch, records.WriteOptions{Actor: p.Actor, Trusted: true}); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fail(c.id, err)
			continue
		}
		run.Changed++
		if p.Progress != nil && (i+1)%100 == 0 {
			p.Progress(run.Customers + i + 1)
		}
	}
	return run, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Move is one change of a record's field value, read from the record's history.
type Move struct {
	Record string    `json:"record"`
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	// Rule is the segment rule that made a segment move.
	Rule string `json:"rule,omitempty"`
	// By is the user who made the change, when one did; Via the channel (api, import, process, analytics).
	By  string `json:"by,omitempty"`
	Via string `json:"via,omitempty"`
}

// Transition counts the moves from one value to another.
type Transition struct {
	// Month is the first day of the month of the moves, when grouped by month.
	Month string `json:"month,omitempty"`
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// MovesReport is the history of a field's moves in a period: counts from → to and the latest moves.
type MovesReport struct {
	Entity      string       `json:"entity"`
	Field       string       `json:"field"`
	Period      Period       `json:"period"`
	Total       int          `json:"total"`
	Transitions []Transition `json:"transitions"`
	ByMonth     []Transition `json:"byMonth"`
	Latest      []Move       `json:"latest" doc:"The most recent moves, newest first."`
}

// SegmentMoves is the history of segment moves of a customer entity in the period.
func (e *Engine) SegmentMoves(ctx context.Context, v Viewer, customer string, p Period, latest int) (*MovesReport, error) {
	if err := checkCustomer(customer); err != nil {
		return nil, err
	}
	return e.moves(ctx, v, customer, FieldSegment, p, latest, nil)
}

// moves reads the history of one field of an entity in the period. Creations count as moves from "";
// fn, when set, receives every move as it is read (CSV export).
func (e *Engine) moves(ctx context.Context, v Viewer, entity, field string, p Period, latest int, fn func(Move) error) (*MovesReport, error) {
	scope, err := access(v, entity, field)
	if err != nil {
		return nil, err
	}
	inScope, err := e.scopeIDs(ctx, entity, scope)
	if err != nil {
		return nil, err
	}
	rep := &MovesReport{Entity: entity, Field: field, Period: p, Transitions: []Transition{}, ByMonth: []Transition{}, Latest: []Move{}}
	pairs := map[[2]string]int{}
	months := map[[3]string]int{}
	filter := bson.D{{Key: "entity", Value: entity}, {Key: "changes.field", Value: field}, p.within("at")}
	if err := e.flushHistory(ctx); err != nil {
		return nil, err
	}
	err = scan(ctx, e.db.Collection(records.HistoryCollection), filter, []string{"recordId", "at", "op", "actor", "changes"}, func(doc bson.Raw) error {
		id, _ := lookupPlain(doc, "recordId").(string)
		if inScope != nil && !inScope[id] {
			return nil
		}
		m := Move{Record: id}
		m.At, _ = lookupPlain(doc, "at").(time.Time)
		m.By, _ = lookupPlain(doc, "actor.user").(string)
		m.Via, _ = lookupPlain(doc, "actor.via").(string)
		changes, err := doc.LookupErr("changes")
		if err != nil {
			return nil
		}
		vals, _ := changes.Array().Values()
		found := false
		for _, c := range vals {
			cd, ok := c.DocumentOK()
			if !ok {
				continue
			}
			switch lookupPlain(cd, "field") {
			case field:
				m.From = keyString(lookupPlain(cd, "before"))
				m.To = keyString(lookupPlain(cd, "after"))
				found = true
			case FieldSegmentRule:
				m.Rule = keyString(lookupPlain(cd, "after"))
			}
		}
		if !found || m.From == m.To {
			return nil
		}
		rep.Total++
		pairs[[2]string{m.From, m.To}]++
		months[[3]string{m.At.Format("2006-01") + "-01", m.From, m.To}]++
		rep.Latest = keepLatest(rep.Latest, m, latest)
		if fn != nil {
			return fn(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, n := range pairs {
		rep.Transitions = append(rep.Transitions, Transition{From: k[0], To: k[1], Count: n})
	}
	slices.SortFunc(rep.Transitions, func(a, b Transition) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
	})
	for k, n := range months {
		rep.ByMonth = append(rep.ByMonth, Transition{Month: k[0], From: k[1], To: k[2], Count: n})
	}
	slices.SortFunc(rep.ByMonth, func(a, b Transition) int {
		return strings.Compare(a.Month+"\x00"+a.From+"\x00"+a.To, b.Month+"\x00"+b.From+"\x00"+b.To)
	})
	return rep, nil
}

// keepLatest keeps the n newest moves, newest first, in bounded memory.
func keepLatest(list []Move, m Move, n int) []Move {
	if n <= 0 {
		return list
	}
	i, _ := slices.BinarySearchFunc(list, m, func(a, b Move) int { return b.At.Compare(a.At) })
	if i >= n {
		return list
	}
	list = slices.Insert(list, i, m)
	if len(list) > n {
		list = list[:n]
	}
	return list
}

// scopeIDs lists the IDs of the entity's records inside scope, or nil when the scope is everything: the
// history does not carry owners, so history reports check membership here.
func (e *Engine) scopeIDs(ctx context.Context, entity string, scope bson.D) (map[string]bool, error) {
	if len(scope) == 0 {
		return nil, nil
	}
	ids := map[string]bool{}
	err := scan(ctx, e.db.Collection(records.CollectionPrefix+entity), bson.D{{Key: "$and", Value: bson.A{scope}}}, []string{"_id"}, func(doc bson.Raw) error {
		if id, ok := lookupPlain(doc, "_id").(string); ok {
			ids[id] = true
		}
		return nil
	})
	return ids, err
}

// MovesCSVHeader and CSV are the CSV form of a move.
var MovesCSVHeader = []string{"record", "at", "from", "to", "rule", "by", "via"}

// CSV renders the move as a CSV row.
func (m Move) CSV() []string {
	return []string{m.Record, m.At.UTC().Format(time.RFC3339), m.From, m.To, m.Rule, m.By, m.Via}
}

// SegmentMovesEach streams every segment move of the period to fn (for CSV export) and returns the
// report without a list of latest moves.
func (e *Engine) SegmentMovesEach(ctx context.Context, v Viewer, customer string, p Period, fn func(Move) error) (*MovesReport, error) {
	if err := checkCustomer(customer); err != nil {
		return nil, err
	}
	return e.moves(ctx, v, customer, FieldSegment, p, 0, fn)
}

// CheckSegmentRules reports whether a segment run over customer could use the rule set key (the
// default when empty), as an *InputError naming "customer" or "rules" when not.
func (e *Engine) CheckSegmentRules(ctx context.Context, customer, key string) error {
	if err := checkCustomer(customer); err != nil {
		return err
	}
	if e.opts.Rulesets == nil {
		return errors.New("analytics: no rule set store")
	}
	_, err := e.segmentTable(ctx, customer, key)
	return err
}
