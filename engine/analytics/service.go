package analytics

import (
	"context"
	"fmt"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
)

// ComplaintEntity is the entity the service report reads. The fields it reads (schemas/entities/
// complaint.json): createdAt, severity, team, responseDueAt, acknowledgedAt, resolutionDueAt, resolvedAt,
// satisfactionScore (1-5) and reopenCount.
const ComplaintEntity = "complaint"

// ServiceParams select the complaints created in the period, optionally of one team or owner.
type ServiceParams struct {
	Period Period
	Own    Ownership
}

// ServiceReport is complaint handling: SLA compliance, times to acknowledge and resolve, satisfaction
// and reopen rate, in total, by severity and team, and by month of creation.
type ServiceReport struct {
	Period Period `json:"period"`
	// AsOf is the instant an unanswered complaint past its deadline counts as breached.
	AsOf     time.Time        `json:"asOf"`
	Total    ServiceFigures   `json:"total"`
	Groups   []ServiceFigures `json:"groups" doc:"By severity and team."`
	ByMonth  []ServiceFigures `json:"byMonth" doc:"By month of creation: SLA and CSAT over time."`
	CSAT     []ScoreCount     `json:"csat" doc:"How many complaints got each satisfaction score 1-5."`
	Severity []string         `json:"severities"`
}

// ServiceFigures are the service measures of one group of complaints.
type ServiceFigures struct {
	Severity   string `json:"severity,omitempty"`
	Team       string `json:"team,omitempty"`
	Month      string `json:"month,omitempty"`
	Complaints int64  `json:"complaints"`
	// Acknowledge and Resolve are the two SLAs: acknowledged (resolved) by the response (resolution)
	// deadline.
	Acknowledge SLA `json:"acknowledge"`
	Resolve     SLA `json:"resolve"`
	// AvgHoursToAcknowledge and AvgHoursToResolve are means from creation over the complaints that were.
	AvgHoursToAcknowledge float64 `json:"avgHoursToAcknowledge"`
	Acknowledged          int64   `json:"acknowledged"`
	AvgHoursToResolve     float64 `json:"avgHoursToResolve"`
	Resolved              int64   `json:"resolved"`
	// CSATAverage is the mean satisfaction score over the CSATResponses complaints that have one.
	CSATAverage   float64 `json:"csatAverage"`
	CSATResponses int64   `json:"csatResponses"`
	// ReopenRate is Reopened ÷ complaints resolved at least once.
	Reopened   int64   `json:"reopened"`
	ReopenRate float64 `json:"reopenRate"`
}

// SLA counts one deadline: met (done by it), breached (done after it, or not done and past it) and
// pending (not done, not yet due); Compliance is met ÷ (met + breached).
type SLA struct {
	Met        int64   `json:"met"`
	Breached   int64   `json:"breached"`
	Pending    int64   `json:"pending"`
	Compliance float64 `json:"compliance"`
}

// ScoreCount is the number of complaints with one satisfaction score.
type ScoreCount struct {
	Score int   `json:"score"`
	Count int64 `json:"count"`
}

// serviceMeasures are the measures of a service grouping, in the order serviceFigures reads them.
func serviceMeasures(asOf time.Time) []Measure {
	ci := func(c Cond) Measure { return Measure{Kind: CountIf, If: &c} }
	return []Measure{
		{Kind: Count},
		ci(LteField("acknowledgedAt", "responseDueAt")),
		ci(Or(GtField("acknowledgedAt", "responseDueAt"), And(Not(Exists("acknowledgedAt")), Lt("responseDueAt", asOf)))),
		ci(Exists("responseDueAt")),
		ci(LteField("resolvedAt", "resolutionDueAt")),
		ci(Or(GtField("resolvedAt", "resolutionDueAt"), And(Not(Exists("resolvedAt")), Lt("resolutionDueAt", asOf)))),
		ci(Exists("resolutionDueAt")),
		{Kind: SumDiff, Field: "acknowledgedAt", Start: "createdAt"},
		ci(And(Exists("acknowledgedAt"), Exists("createdAt"))),
		{Kind: SumDiff, Field: "resolvedAt", Start: "createdAt"},
		ci(And(Exists("resolvedAt"), Exists("createdAt"))),
		{Kind: Sum, Field: "satisfactionScore"},
		ci(Exists("satisfactionScore")),
		ci(Gt("reopenCount", 0)),
		ci(Or(Exists("resolvedAt"), Gt("reopenCount", 0))),
	}
}

// sums are a group's raw measures, added up for totals before averages are taken.
type sums [15]float64

func (s *sums) add(r Row) {
	for i := range s {
		s[i] += r.Float(i)
	}
}

func (s sums) figures() ServiceFigures {
	sla := func(met, breached, due float64) SLA {
		return SLA{Met: int64(met), Breached: int64(breached), Pending: int64(due - met - breached), Compliance: ratio(met, met+breached)}
	}
	hours := func(ms, n float64) float64 {
		if n == 0 {
			return 0
		}
		return math.Round(ms/n/3.6e6*100) / 100
	}
	f := ServiceFigures{Complaints: int64(s[0]), Acknowledge: sla(s[1], s[2], s[3]), Resolve: sla(s[4], s[5], s[6]),
		AvgHoursToAcknowledge: hours(s[7], s[8]), Acknowledged: int64(s[8]), AvgHoursToResolve: hours(s[9], s[10]), Resolved: int64(s[10]),
		CSATResponses: int64(s[12]), Reopened: int64(s[13]), ReopenRate: ratio(s[13], s[14])}
	if s[12] > 0 {
		f.CSATAverage = math.Round(s[11]/s[12]*100) / 100
	}
	return f
}

// Service computes the service report over the complaints created in the period.
func (e *Engine) Service(ctx context.Context, v Viewer, p ServiceParams) (*ServiceReport, error) {
	scope, err := access(v, ComplaintEntity, "severity", "team", "responseDueAt", "acknowledgedAt", "resolutionDueAt", "resolvedAt", "satisfactionScore", "reopenCount")
	if err != nil {
		return nil, err
	}
	asOf := e.opts.Now().UTC().Truncate(time.Millisecond)
	match := live(scope, append([]bson.E{p.Period.within("createdAt")}, p.Own.conds()...)...)
	coll := records.CollectionPrefix + ComplaintEntity
	rep := &ServiceReport{Period: p.Period, AsOf: asOf, Groups: []ServiceFigures{}, ByMonth: []ServiceFigures{}, CSAT: []ScoreCount{}}
	rows, err := e.Group(ctx, Spec{Collection: coll, Match: match, Keys: []Key{{Field: "severity"}, {Field: "team"}}, Measures: serviceMeasures(asOf)})
	if err != nil {
		return nil, err
	}
	var total sums
	for _, r := range rows {
		var s sums
		s.add(r)
		total.add(r)
		f := s.figures()
		f.Severity, f.Team = r.Key(0), r.Key(1)
		rep.Groups = append(rep.Groups, f)
	}
	rep.Total = total.figures()
	rows, err = e.Group(ctx, Spec{Collection: coll, Match: match, Keys: []Key{{Field: "createdAt", Trunc: "month"}}, Measures: serviceMeasures(asOf)})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		var s sums
		s.add(r)
		f := s.figures()
		if t, ok := r.Keys[0].(time.Time); ok {
			f.Month = t.Format(time.DateOnly)
		}
		rep.ByMonth = append(rep.ByMonth, f)
	}
	rows, err = e.Group(ctx, Spec{Collection: coll, Match: match, Keys: []Key{{Field: "satisfactionScore"}}, Measures: []Measure{{Kind: Count}}})
	if err != nil {
		return nil, err
	}
	dist := map[int]int64{}
	for _, r := range rows {
		if s, ok := r.Keys[0].(float64); ok {
			dist[int(s)] += r.Int(0)
		}
	}
	for s := 1; s <= 5; s++ {
		rep.CSAT = append(rep.CSAT, ScoreCount{Score: s, Count: dist[s]})
	}
	rep.Severity, err = e.enumOrder(ctx, ComplaintEntity, "severity")
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// ServiceCSVHeader and CSV are the CSV form of the service report: the total, then each severity and
// team, then each month.
var ServiceCSVHeader = []string{"severity", "team", "month", "complaints", "ackMet", "ackBreached", "ackPending", "ackCompliance",
	"resolveMet", "resolveBreached", "resolvePending", "resolveCompliance", "avgHoursToAcknowledge", "acknowledged",
	"avgHoursToResolve", "resolved", "csatAverage", "csatResponses", "reopened", "reopenRate"}

// CSV renders the report as rows.
func (r *ServiceReport) CSV() [][]string {
	row := func(f ServiceFigures, sev string) []string {
		if sev == "" {
			sev = f.Severity
		}
		return []string{sev, f.Team, f.Month, fmt.Sprint(f.Complaints),
			fmt.Sprint(f.Acknowledge.Met), fmt.Sprint(f.Acknowledge.Breached), fmt.Sprint(f.Acknowledge.Pending), num(f.Acknowledge.Compliance),
			fmt.Sprint(f.Resolve.Met), fmt.Sprint(f.Resolve.Breached), fmt.Sprint(f.Resolve.Pending), num(f.Resolve.Compliance),
			num(f.AvgHoursToAcknowledge), fmt.Sprint(f.Acknowledged), num(f.AvgHoursToResolve), fmt.Sprint(f.Resolved),
			num(f.CSATAverage), fmt.Sprint(f.CSATResponses), fmt.Sprint(f.Reopened), num(f.ReopenRate)}
	}
	out := [][]string{row(r.Total, "(total)")}
	for _, g := range r.Groups {
		out = append(out, row(g, ""))
	}
	for _, g := range r.ByMonth {
		out = append(out, row(g, "(month)"))
	}
	return out
}
