package analytics

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
)

// LoyaltyField is the field holding a customer's stage on the loyalty ladder.
const LoyaltyField = "loyaltyStage"

// Ownership narrows a report to the records of one team or one owner.
type Ownership struct {
	Team, Owner string
}

func (o Ownership) conds() []bson.E {
	var out []bson.E
	if o.Team != "" {
		out = append(out, bson.E{Key: "team", Value: o.Team})
	}
	if o.Owner != "" {
		out = append(out, bson.E{Key: "owner", Value: o.Owner})
	}
	return out
}

// StageCount is the number of records at one stage.
type StageCount struct {
	Stage string  `json:"stage"`
	Count int64   `json:"count"`
	Share float64 `json:"share"`
}

// LoyaltyReport is the loyalty ladder: today's distribution of customers by stage (in ladder order,
// "" for records without a stage) and the moves between stages in the period, from record history.
type LoyaltyReport struct {
	Entity      string       `json:"entity"`
	Period      Period       `json:"period"`
	Total       int64        `json:"total"`
	Stages      []StageCount `json:"stages"`
	Moves       int          `json:"moves"`
	Transitions []Transition `json:"transitions"`
	ByMonth     []Transition `json:"byMonth"`
}

// Loyalty computes the loyalty ladder of contacts or companies.
func (e *Engine) Loyalty(ctx context.Context, v Viewer, entity string, p Period, own Ownership) (*LoyaltyReport, error) {
	if err := checkCustomer(entity); err != nil {
		return nil, &InputError{Param: "entity", Message: "must be contact or company"}
	}
	scope, err := access(v, entity, LoyaltyField)
	if err != nil {
		return nil, err
	}
	order, err := e.enumOrder(ctx, entity, LoyaltyField)
	if err != nil {
		return nil, err
	}
	rows, err := e.Group(ctx, Spec{
		Collection: records.CollectionPrefix + entity,
		Match:      live(scope, own.conds()...),
		Keys:       []Key{{Field: LoyaltyField}},
		Measures:   []Measure{{Kind: Count}},
	})
	if err != nil {
		return nil, err
	}
	rep := &LoyaltyReport{Entity: entity, Period: p}
	counts := map[string]int64{}
	for _, r := range rows {
		counts[r.Key(0)] += r.Int(0)
		rep.Total += r.Int(0)
	}
	for _, st := range order {
		rep.Stages = append(rep.Stages, StageCount{Stage: st, Count: counts[st], Share: ratio(float64(counts[st]), float64(rep.Total))})
		delete(counts, st)
	}
	for st, n := range counts { // stages no longer in the schema, and records without one
		rep.Stages = append(rep.Stages, StageCount{Stage: st, Count: n, Share: ratio(float64(n), float64(rep.Total))})
	}
	if own != (Ownership{}) {
		scope = append(bson.D{}, own.conds()...)
		if vs := viewerScope(v, entity); len(vs) > 0 {
			scope = append(scope, bson.E{Key: "$and", Value: bson.A{vs}})
		}
	}
	moves, err := e.moves(ctx, scopedViewer{v, entity, scope}, entity, LoyaltyField, p, 0, nil)
	if err != nil {
		return nil, err
	}
	rep.Moves, rep.Transitions, rep.ByMonth = moves.Total, moves.Transitions, moves.ByMonth
	return rep, nil
}

// enumOrder lists the options of an enum field in schema order.
func (e *Engine) enumOrder(ctx context.Context, entity, field string) ([]string, error) {
	if e.opts.Records == nil {
		return nil, nil
	}
	info, err := e.opts.Records.Schema(ctx, entity)
	if err != nil {
		return nil, err
	}
	f := info.Entity.Field(field)
	if f == nil {
		return nil, nil
	}
	out := make([]string, len(f.Options))
	for i, o := range f.Options {
		out[i] = o.Value
	}
	return out, nil
}

func viewerScope(v Viewer, entity string) bson.D {
	if v == nil {
		return nil
	}
	return v.Scope(entity)
}

// scopedViewer narrows a viewer's scope on one entity further (team and owner filters).
type scopedViewer struct {
	Viewer
	entity string
	scope  bson.D
}

func (s scopedViewer) CanRead(entity string) bool {
	return s.Viewer == nil || s.Viewer.CanRead(entity)
}

func (s scopedViewer) Scope(entity string) bson.D {
	if entity == s.entity && s.scope != nil {
		return s.scope
	}
	return viewerScope(s.Viewer, entity)
}

func (s scopedViewer) Hidden(entity, field string) bool {
	return s.Viewer != nil && s.Viewer.Hidden(entity, field)
}
