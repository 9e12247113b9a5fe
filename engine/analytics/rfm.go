package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
)

// OrderEntity is the entity whose records RFM, Pareto and CLV read.
const OrderEntity = "order"

// CustomerEntities are the entities a customer can be; an order names its customer in the field of the
// same name.
var CustomerEntities = []string{"company", "contact"}

// CustomerParams select the orders behind the customer reports.
type CustomerParams struct {
	// Customer is "company" or "contact": whose orders are grouped.
	Customer string
	Period   Period
	// Currency, when set, counts only orders in that currency; otherwise amounts are added as they are.
	Currency string
	// Team and Owner, when set, count only orders of that team or owner.
	Team, Owner string
}

// Customer is one customer's orders in the period with its RFM scores and lifetime value.
type Customer struct {
	ID string `json:"customer"`
	// Name and Segment come from the customer record, when the caller may read it.
	Name    string `json:"name,omitempty"`
	Segment string `json:"segment,omitempty"`
	// FirstOrder and LastOrder are the dates of the first and last order in the period.
	FirstOrder string `json:"firstOrder"`
	LastOrder  string `json:"lastOrder"`
	// RecencyDays is the number of days from the last order to the period's last day.
	RecencyDays int     `json:"recencyDays"`
	Orders      int64   `json:"orders"`
	Revenue     float64 `json:"revenue"`
	// R, F and M are the quintile scores 1-5 (5 best).
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	// AOV is the average order value; Frequency the orders per year; CLV the lifetime value.
	AOV       float64 `json:"aov"`
	Frequency float64 `json:"frequency"`
	CLV       float64 `json:"clv"`
}

// CLVParams are the assumptions of the lifetime value: CLV = AOV × purchase frequency × expected
// lifetime × margin, with AOV = revenue ÷ orders and frequency = orders ÷ years of the period.
type CLVParams struct {
	// LifetimeYears is how many years a customer is expected to keep buying (default 3).
	LifetimeYears float64
	// Margin is the share of revenue that is profit, 0 < margin <= 1 (default 1: revenue-based CLV).
	Margin float64
}

func (c *CLVParams) defaults() error {
	if c.LifetimeYears == 0 {
		c.LifetimeYears = 3
	}
	if c.Margin == 0 {
		c.Margin = 1
	}
	if c.LifetimeYears < 0 || c.LifetimeYears > 100 || math.IsNaN(c.LifetimeYears) {
		return &InputError{Param: "lifetime", Message: "must be a number of years between 0 and 100"}
	}
	if c.Margin < 0 || c.Margin > 1 || math.IsNaN(c.Margin) {
		return &InputError{Param: "margin", Message: "must be a share between 0 and 1, e.g. 0.3"}
	}
	return nil
}

func checkCustomer(c string) error {
	if !slices.Contains(CustomerEntities, c) {
		return &InputError{Param: "customer", Message: "must be company or contact"}
	}
	return nil
}

// orderFilter is the filter of the orders a customer report counts: live, in scope, in the period, not
// cancelled, with a customer.
func (p CustomerParams) orderFilter(scope bson.D) bson.D {
	conds := []bson.E{
		{Key: "date", Value: bson.D{{Key: "$gte", Value: p.Period.FirstDay()}, {Key: "$lte", Value: p.Period.LastDay()}}},
		{Key: "status", Value: bson.D{{Key: "$ne", Value: "cancelled"}}},
		{Key: p.Customer, Value: bson.D{{Key: "$ne", Value: nil}}},
	}
	if p.Currency != "" {
		conds = append(conds, bson.E{Key: "amount.currency", Value: strings.ToUpper(p.Currency)})
	}
	if p.Team != "" {
		conds = append(conds, bson.E{Key: "team", Value: p.Team})
	}
	if p.Owner != "" {
		conds = append(conds, bson.E{Key: "owner", Value: p.Owner})
	}
	return live(scope, conds...)
}

// Customers computes every customer's orders, revenue, RFM scores and CLV in the period, sorted by
// revenue (largest first, then by ID). Memory grows with the number of customers, never with orders.
func (e *Engine) Customers(ctx context.Context, v Viewer, p CustomerParams, clv CLVParams) ([]Customer, error) {
	if err := checkCustomer(p.Customer); err != nil {
		return nil, err
	}
	if err := clv.defaults(); err != nil {
		return nil, err
	}
	scope, err := access(v, OrderEntity, p.Customer, "amount", "date")
	if err != nil {
		return nil, err
	}
	rows, err := e.Group(ctx, Spec{
		Collection: records.CollectionPrefix + OrderEntity,
		Match:      p.orderFilter(scope),
		Keys:       []Key{{Field: p.Customer}},
		Measures:   []Measure{{Kind: Count}, {Kind: Sum, Field: "amount.amount"}, {Kind: Max, Field: "date"}, {Kind: Min, Field: "date"}},
	})
	if err != nil {
		return nil, err
	}
	out := make([]Customer, 0, len(rows))
	end := p.Period.To.Add(-day)
	years := p.Period.Years()
	for _, r := range rows {
		id, ok := r.Keys[0].(string)
		if !ok || id == "" {
			continue
		}
		c := Customer{ID: id, Orders: r.Int(0), Revenue: r.Float(1)}
		c.LastOrder, _ = r.Values[2].(string)
		c.FirstOrder, _ = r.Values[3].(string)
		if last, err := time.Parse(time.DateOnly, c.LastOrder); err == nil {
			c.RecencyDays = int(end.Sub(last) / day)
		}
		if c.Orders > 0 {
			c.AOV = c.Revenue / float64(c.Orders)
		}
		c.Frequency = float64(c.Orders) / years
		c.CLV = round2(c.AOV * c.Frequency * clv.LifetimeYears * clv.Margin)
		c.AOV, c.Frequency, c.Revenue = round2(c.AOV), math.Round(c.Frequency*10000)/10000, round2(c.Revenue)
		out = append(out, c)
	}
	score(out)
	slices.SortFunc(out, func(a, b Customer) int {
		if a.Revenue != b.Revenue {
			if a.Revenue > b.Revenue {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// score sets the R, F and M quintile scores: for a measure x over n customers, a customer's score is
// 1 + ⌊5 × (customers with a strictly smaller x) ÷ n⌋, so equal values share a score and the lowest
// value scores 1. R ranks the last order's date (later is better), F the order count, M the revenue.
func score(cs []Customer) {
	n := len(cs)
	if n == 0 {
		return
	}
	quintiles(cs, func(c *Customer) string { return c.LastOrder }, func(c *Customer, s int) { c.R = s })
	quintiles(cs, func(c *Customer) float64 { return float64(c.Orders) }, func(c *Customer, s int) { c.F = s })
	quintiles(cs, func(c *Customer) float64 { return c.Revenue }, func(c *Customer, s int) { c.M = s })
}

func quintiles[T cmp.Ordered](cs []Customer, key func(*Customer) T, set func(*Customer, int)) {
	vals := make([]T, len(cs))
	for i := range cs {
		vals[i] = key(&cs[i])
	}
	slices.Sort(vals)
	for i := range cs {
		less, _ := slices.BinarySearch(vals, key(&cs[i]))
		set(&cs[i], 1+5*less/len(cs))
	}
}

// nameField is the field naming a customer in lists.
func nameField(customer string) string {
	if customer == "contact" {
		return "fullName"
	}
	return "name"
}

// attachNames fills Name and Segment from the customer records the caller may read.
func (e *Engine) attachNames(ctx context.Context, v Viewer, customer string, cs []Customer) error {
	if len(cs) == 0 {
		return nil
	}
	if v != nil && !v.CanRead(customer) {
		return nil
	}
	var scope bson.D
	if v != nil {
		scope = v.Scope(customer)
	}
	idx := make(map[string]int, len(cs))
	for i, c := range cs {
		idx[c.ID] = i
	}
	name := nameField(customer)
	return scan(ctx, e.db.Collection(records.CollectionPrefix+customer), live(scope), []string{"_id", name, "segment"}, func(doc bson.Raw) error {
		id, _ := lookupPlain(doc, "_id").(string)
		i, ok := idx[id]
		if !ok {
			return nil
		}
		if v == nil || !v.Hidden(customer, name) {
			cs[i].Name, _ = lookupPlain(doc, name).(string)
		}
		if v == nil || !v.Hidden(customer, "segment") {
			cs[i].Segment, _ = lookupPlain(doc, "segment").(string)
		}
		return nil
	})
}

// RFMReport is the RFM analysis of a period: totals, the R × F grid, the customers per segment and one
// page of customers.
type RFMReport struct {
	Customer  string        `json:"customer"`
	Period    Period        `json:"period"`
	Customers int           `json:"customers"`
	Orders    int64         `json:"orders"`
	Revenue   float64       `json:"revenue"`
	Grid      []GridCell    `json:"grid" doc:"Customers per recency and frequency score: the RFM grid (25 cells)."`
	Segments  []SegmentSize `json:"segments" doc:"Customers and revenue per stored segment; \"\" for customers without one."`
	Items     []Customer    `json:"items" doc:"The customers of the requested page, by revenue."`
}

// GridCell counts the customers with one recency and frequency score.
type GridCell struct {
	R         int     `json:"r"`
	F         int     `json:"f"`
	Customers int     `json:"customers"`
	Revenue   float64 `json:"revenue"`
}

// SegmentSize is one segment's customers and revenue, with its average lifetime value.
type SegmentSize struct {
	Segment   string  `json:"segment"`
	Customers int     `json:"customers"`
	Orders    int64   `json:"orders"`
	Revenue   float64 `json:"revenue"`
	Share     float64 `json:"share" doc:"Share of the period's revenue."`
	AOV       float64 `json:"aov"`
	Frequency float64 `json:"frequency" doc:"Orders per customer per year."`
	CLV       float64 `json:"clv" doc:"AOV × frequency × lifetime × margin: the average customer's lifetime value."`
}

// RFM computes the RFM report; offset and limit page the customers.
func (e *Engine) RFM(ctx context.Context, v Viewer, p CustomerParams, offset, limit int) (*RFMReport, error) {
	cs, err := e.Customers(ctx, v, p, CLVParams{})
	if err != nil {
		return nil, err
	}
	if err := e.attachNames(ctx, v, p.Customer, cs); err != nil {
		return nil, err
	}
	rep := &RFMReport{Customer: p.Customer, Period: p.Period, Customers: len(cs), Grid: make([]GridCell, 0, 25)}
	grid := [6][6]GridCell{}
	for _, c := range cs {
		rep.Orders += c.Orders
		rep.Revenue += c.Revenue
		g := &grid[c.R][c.F]
		g.Customers++
		g.Revenue += c.Revenue
	}
	rep.Revenue = round2(rep.Revenue)
	for r := 5; r >= 1; r-- {
		for f := 1; f <= 5; f++ {
			g := grid[r][f]
			rep.Grid = append(rep.Grid, GridCell{R: r, F: f, Customers: g.Customers, Revenue: round2(g.Revenue)})
		}
	}
	rep.Segments = segmentSizes(cs, p.Period, CLVParams{LifetimeYears: 3, Margin: 1})
	rep.Items = page(cs, offset, limit)
	return rep, nil
}

func page[T any](items []T, offset, limit int) []T {
	if offset >= len(items) {
		return []T{}
	}
	end := min(len(items), offset+limit)
	return items[offset:end]
}

// segmentSizes sums customers by stored segment.
func segmentSizes(cs []Customer, p Period, clv CLVParams) []SegmentSize {
	by := map[string]*SegmentSize{}
	var total float64
	for _, c := range cs {
		s := by[c.Segment]
		if s == nil {
			s = &SegmentSize{Segment: c.Segment}
			by[c.Segment] = s
		}
		s.Customers++
		s.Orders += c.Orders
		s.Revenue += c.Revenue
		total += c.Revenue
	}
	out := make([]SegmentSize, 0, len(by))
	for _, s := range by {
		if s.Orders > 0 {
			s.AOV = s.Revenue / float64(s.Orders)
		}
		s.Frequency = float64(s.Orders) / float64(s.Customers) / p.Years()
		s.CLV = round2(s.AOV * s.Frequency * clv.LifetimeYears * clv.Margin)
		s.Share = ratio(s.Revenue, total)
		s.AOV, s.Revenue, s.Frequency = round2(s.AOV), round2(s.Revenue), math.Round(s.Frequency*10000)/10000
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b SegmentSize) int {
		if a.Revenue != b.Revenue {
			if a.Revenue > b.Revenue {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Segment, b.Segment)
	})
	return out
}

// ParetoReport is the concentration of revenue: the share of the top 20% of customers and the curve.
type ParetoReport struct {
	Customer  string  `json:"customer"`
	Period    Period  `json:"period"`
	Customers int     `json:"customers"`
	Revenue   float64 `json:"revenue"`
	// TopCustomers is ⌈20% × customers⌉, the customers in the top 20% by revenue; TopShare their share.
	TopCustomers int     `json:"topCustomers"`
	TopShare     float64 `json:"topShare"`
	// Curve gives, for every 5% of customers (largest first), the cumulative share of revenue.
	Curve    []CurvePoint  `json:"curve"`
	Segments []SegmentSize `json:"segments"`
}

// CurvePoint is one point of the Pareto curve.
type CurvePoint struct {
	CustomerShare float64 `json:"customerShare"`
	Customers     int     `json:"customers"`
	RevenueShare  float64 `json:"revenueShare"`
}

// Pareto computes the Pareto report.
func (e *Engine) Pareto(ctx context.Context, v Viewer, p CustomerParams) (*ParetoReport, error) {
	cs, err := e.Customers(ctx, v, p, CLVParams{})
	if err != nil {
		return nil, err
	}
	if err := e.attachNames(ctx, v, p.Customer, cs); err != nil {
		return nil, err
	}
	rep := &ParetoReport{Customer: p.Customer, Period: p.Period, Customers: len(cs), Curve: []CurvePoint{}}
	cum := make([]float64, len(cs)+1)
	for i, c := range cs { // already largest first
		cum[i+1] = cum[i] + c.Revenue
	}
	total := cum[len(cs)]
	rep.Revenue = round2(total)
	n := len(cs)
	rep.TopCustomers = int(math.Ceil(0.2 * float64(n)))
	rep.TopShare = ratio(cum[rep.TopCustomers], total)
	for step := 1; step <= 20 && n > 0; step++ {
		k := int(math.Ceil(float64(step*n) / 20))
		rep.Curve = append(rep.Curve, CurvePoint{CustomerShare: float64(step) / 20, Customers: k, RevenueShare: ratio(cum[k], total)})
	}
	rep.Segments = segmentSizes(cs, p.Period, CLVParams{LifetimeYears: 3, Margin: 1})
	return rep, nil
}

// CLVReport is the lifetime value per customer and per segment under stated assumptions.
type CLVReport struct {
	Customer string    `json:"customer"`
	Period   Period    `json:"period"`
	Formula  string    `json:"formula"`
	Params   CLVParams `json:"params"`
	// Average is the mean CLV over customers.
	Average   float64       `json:"average"`
	Customers int           `json:"customers"`
	Segments  []SegmentSize `json:"segments"`
	Items     []Customer    `json:"items"`
}

// CLVFormula documents how lifetime value is computed.
const CLVFormula = "CLV = AOV × purchase frequency × expected lifetime × margin; AOV = revenue ÷ orders, frequency = orders ÷ years of the period (days ÷ 365)"

// CLV computes lifetime values; offset and limit page the customers.
func (e *Engine) CLV(ctx context.Context, v Viewer, p CustomerParams, clv CLVParams, offset, limit int) (*CLVReport, error) {
	if err := clv.defaults(); err != nil {
		return nil, err
	}
	cs, err := e.Customers(ctx, v, p, clv)
	if err != nil {
		return nil, err
	}
	if err := e.attachNames(ctx, v, p.Customer, cs); err != nil {
		return nil, err
	}
	rep := &CLVReport{Customer: p.Customer, Period: p.Period, Formula: CLVFormula, Params: clv, Customers: len(cs)}
	var sum float64
	for _, c := range cs {
		sum += c.CLV
	}
	if len(cs) > 0 {
		rep.Average = round2(sum / float64(len(cs)))
	}
	rep.Segments = segmentSizes(cs, p.Period, clv)
	rep.Items = page(cs, offset, limit)
	return rep, nil
}

// CustomersCSVHeader and CustomerCSV are the CSV form of a customer row (RFM and CLV exports).
var CustomersCSVHeader = []string{"customer", "name", "segment", "firstOrder", "lastOrder", "recencyDays", "orders", "revenue", "r", "f", "m", "aov", "frequency", "clv"}

// CSV renders one customer as a CSV row.
func (c Customer) CSV() []string {
	return []string{c.ID, c.Name, c.Segment, c.FirstOrder, c.LastOrder, fmt.Sprint(c.RecencyDays), fmt.Sprint(c.Orders),
		num(c.Revenue), fmt.Sprint(c.R), fmt.Sprint(c.F), fmt.Sprint(c.M), num(c.AOV), num(c.Frequency), num(c.CLV)}
}

func num(f float64) string { return fmt.Sprint(f) }
