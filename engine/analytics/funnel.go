package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
)

// funnelDef is the ordered funnel of an entity: the stages a record passes in order, the stage that
// wins and the one that loses.
type funnelDef struct {
	field  string
	stages []string
	won    string
	lost   string
}

// Funnels are the sales funnels of the built-in leads and deals.
var funnels = map[string]funnelDef{
	"lead": {field: "status", stages: []string{"new", "contacted", "qualified", "converted"}, won: "converted", lost: "disqualified"},
	"deal": {field: "stage", stages: []string{"qualification", "needsAnalysis", "proposal", "negotiation", "won"}, won: "won", lost: "lost"},
}

// FunnelParams select a funnel report: the records of Entity ("lead" or "deal") created in the period,
// grouped by By ("", "source", "owner" or "month").
type FunnelParams struct {
	Entity string
	Period Period
	By     string
	Own    Ownership
}

// FunnelReport is the conversion through a sales funnel of the records created in the period.
type FunnelReport struct {
	Entity string        `json:"entity"`
	Field  string        `json:"field"`
	Period Period        `json:"period"`
	By     string        `json:"by,omitempty"`
	Stages []string      `json:"stages"`
	Total  FunnelGroup   `json:"total"`
	Groups []FunnelGroup `json:"groups"`
}

// FunnelGroup is the funnel of one group of records.
type FunnelGroup struct {
	Key     string        `json:"key"`
	Records int           `json:"records"`
	Stages  []FunnelStage `json:"stages"`
	// Won and Lost count the records that reached the winning or losing state; WinRate is won ÷ (won +
	// lost), the closed records that were won.
	Won     int     `json:"won"`
	Lost    int     `json:"lost"`
	WinRate float64 `json:"winRate"`
}

// FunnelStage is one stage of a funnel.
type FunnelStage struct {
	Stage string `json:"stage"`
	// Reached counts records that were ever at this stage or a later one (passing a stage implies the
	// earlier ones); Conversion is Reached ÷ Reached of the previous stage (of the records, for the first).
	Reached    int     `json:"reached"`
	Conversion float64 `json:"conversion"`
	// Current counts records at this stage now.
	Current int `json:"current"`
	// AvgHours is the mean time a record stayed in the stage, over the Stays that ended.
	AvgHours float64 `json:"avgHours"`
	Stays    int     `json:"stays"`
}

type funnelRec struct {
	group   string
	created time.Time
	current string
	steps   []funnelStep
}

type funnelStep struct {
	seq int64
	at  time.Time
	to  string
}

// Funnel computes a sales funnel from the records created in the period and their history. It streams
// both on every backend: a record's path through the stages is a sequence, which a grouping cannot
// express; memory grows with the records created in the period.
func (e *Engine) Funnel(ctx context.Context, v Viewer, p FunnelParams) (*FunnelReport, error) {
	def, ok := funnels[p.Entity]
	if !ok {
		return nil, &InputError{Param: "entity", Message: "must be lead or deal"}
	}
	dim := ""
	switch p.By {
	case "", "month":
	case "owner":
		dim = "owner"
	case "source":
		dim = "source"
		if p.Entity == "deal" {
			dim = "lead"
		}
	default:
		return nil, &InputError{Param: "by", Message: "must be source, owner or month"}
	}
	needed := []string{def.field}
	if dim != "" {
		needed = append(needed, dim)
	}
	scope, err := access(v, p.Entity, needed...)
	if err != nil {
		return nil, err
	}
	recs := map[string]*funnelRec{}
	fields := []string{"_id", "createdAt", def.field}
	if dim != "" {
		fields = append(fields, dim)
	}
	err = scan(ctx, e.db.Collection(records.CollectionPrefix+p.Entity), live(scope, append([]bson.E{p.Period.within("createdAt")}, p.Own.conds()...)...), fields,
		func(doc bson.Raw) error {
			id, _ := lookupPlain(doc, "_id").(string)
			r := &funnelRec{current: keyString(lookupPlain(doc, def.field))}
			r.created, _ = lookupPlain(doc, "createdAt").(time.Time)
			switch {
			case p.By == "month":
				r.group = r.created.Format("2006-01") + "-01"
			case dim != "":
				r.group = keyString(lookupPlain(doc, dim))
			}
			recs[id] = r
			return nil
		})
	if err != nil {
		return nil, err
	}
	if p.Entity == "deal" && p.By == "source" {
		if err := e.leadSources(ctx, v, recs); err != nil {
			return nil, err
		}
	}
	hist := bson.D{{Key: "entity", Value: p.Entity}, {Key: "changes.field", Value: def.field}, {Key: "at", Value: bson.D{{Key: "$gte", Value: p.Period.From}}}}
	if err := e.flushHistory(ctx); err != nil {
		return nil, err
	}
	err = scan(ctx, e.db.Collection(records.HistoryCollection), hist, []string{"recordId", "at", "seq", "changes"}, func(doc bson.Raw) error {
		id, _ := lookupPlain(doc, "recordId").(string)
		r := recs[id]
		if r == nil {
			return nil
		}
		st := funnelStep{}
		st.at, _ = lookupPlain(doc, "at").(time.Time)
		seq, _ := lookupPlain(doc, "seq").(float64)
		st.seq = int64(seq)
		changes, err := doc.LookupErr("changes")
		if err != nil {
			return nil
		}
		vals, _ := changes.Array().Values()
		for _, c := range vals {
			if cd, ok := c.DocumentOK(); ok && lookupPlain(cd, "field") == def.field {
				st.to = keyString(lookupPlain(cd, "after"))
				r.steps = append(r.steps, st)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &FunnelReport{Entity: p.Entity, Field: def.field, Period: p.Period, By: p.By, Stages: def.stages, Groups: []FunnelGroup{}}
	groups := map[string]*funnelAcc{}
	total := newFunnelAcc(def)
	for _, r := range recs {
		g := groups[r.group]
		if g == nil {
			g = newFunnelAcc(def)
			groups[r.group] = g
		}
		g.add(def, r)
		total.add(def, r)
	}
	rep.Total = total.result("", def)
	for k, g := range groups {
		rep.Groups = append(rep.Groups, g.result(k, def))
	}
	slices.SortFunc(rep.Groups, func(a, b FunnelGroup) int { return cmp.Compare(a.Key, b.Key) })
	if p.By == "" {
		rep.Groups = []FunnelGroup{}
	}
	return rep, nil
}

// leadSources replaces each deal's group (its lead's ID) by the lead's source, for the leads the caller
// may read; deals without a readable lead go to "".
func (e *Engine) leadSources(ctx context.Context, v Viewer, recs map[string]*funnelRec) error {
	want := map[string]string{}
	for _, r := range recs {
		if r.group != "" {
			want[r.group] = ""
		}
	}
	if len(want) > 0 && (v == nil || (v.CanRead("lead") && !v.Hidden("lead", "source"))) {
		err := scan(ctx, e.db.Collection(records.CollectionPrefix+"lead"), live(viewerScope(v, "lead")), []string{"_id", "source"}, func(doc bson.Raw) error {
			id, _ := lookupPlain(doc, "_id").(string)
			if _, ok := want[id]; ok {
				want[id] = keyString(lookupPlain(doc, "source"))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, r := range recs {
		r.group = want[r.group]
	}
	return nil
}

type funnelAcc struct {
	records   int
	reached   []int
	current   []int
	stayMs    []float64
	stays     []int
	won, lost int
}

func newFunnelAcc(def funnelDef) *funnelAcc {
	n := len(def.stages)
	return &funnelAcc{reached: make([]int, n), current: make([]int, n), stayMs: make([]float64, n), stays: make([]int, n)}
}

// add walks one record's path: its stages in version order, from its creation.
func (a *funnelAcc) add(def funnelDef, r *funnelRec) {
	a.records++
	slices.SortFunc(r.steps, func(x, y funnelStep) int { return cmp.Compare(x.seq, y.seq) })
	path := r.steps
	if len(path) == 0 {
		// A record without history (written around the store): only its current state is known.
		path = []funnelStep{{at: r.created, to: r.current}}
	}
	maxIdx := -1
	won, lost := false, false
	for i, st := range path {
		if k := slices.Index(def.stages, st.to); k > maxIdx {
			maxIdx = k
		}
		won = won || st.to == def.won
		lost = lost || st.to == def.lost
		if i+1 < len(path) {
			if k := slices.Index(def.stages, st.to); k >= 0 {
				a.stayMs[k] += float64(path[i+1].at.Sub(st.at).Milliseconds())
				a.stays[k]++
			}
		}
	}
	for k := 0; k <= maxIdx; k++ {
		a.reached[k]++
	}
	if k := slices.Index(def.stages, r.current); k >= 0 {
		a.current[k]++
	}
	if won {
		a.won++
	} else if lost {
		a.lost++
	}
}

func (a *funnelAcc) result(key string, def funnelDef) FunnelGroup {
	g := FunnelGroup{Key: key, Records: a.records, Won: a.won, Lost: a.lost, WinRate: ratio(float64(a.won), float64(a.won+a.lost))}
	prev := a.records
	for k, st := range def.stages {
		fs := FunnelStage{Stage: st, Reached: a.reached[k], Conversion: ratio(float64(a.reached[k]), float64(prev)), Current: a.current[k], Stays: a.stays[k]}
		if a.stays[k] > 0 {
			fs.AvgHours = math.Round(a.stayMs[k]/float64(a.stays[k])/3.6e6*100) / 100
		}
		g.Stages = append(g.Stages, fs)
		prev = a.reached[k]
	}
	return g
}

// FunnelCSVHeader and FunnelCSV are the CSV form of a funnel: one row per group and stage.
var FunnelCSVHeader = []string{"group", "stage", "reached", "conversion", "current", "avgHours", "stays", "records", "won", "lost", "winRate"}

// CSV renders the report as rows, the total first (group "(total)").
func (r *FunnelReport) CSV() [][]string {
	var out [][]string
	for i, g := range append([]FunnelGroup{r.Total}, r.Groups...) {
		key := g.Key
		if i == 0 {
			key = "(total)"
		}
		for _, s := range g.Stages {
			out = append(out, []string{key, s.Stage, fmt.Sprint(s.Reached), num(s.Conversion), fmt.Sprint(s.Current), num(s.AvgHours),
				fmt.Sprint(s.Stays), fmt.Sprint(g.Records), fmt.Sprint(g.Won), fmt.Sprint(g.Lost), num(g.WinRate)})
		}
	}
	return out
}
