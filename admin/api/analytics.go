package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/records"
	wfanalytics "github.com/rapportcrm/rapport/workflows/analytics"
)

// The query parameters of the reports, embedded in each operation's input. They are exported types:
// an embedded unexported type is an unexported field, which Huma cannot fill.

// AnalyticsPeriod is the period a report covers.
type AnalyticsPeriod struct {
	From string `query:"from" doc:"First day of the period (YYYY-MM-DD); by default 365 days before to."`
	To   string `query:"to" doc:"Last day of the period (YYYY-MM-DD); by default today."`
}

// AnalyticsOwnership narrows a report to one team's or one owner's records.
type AnalyticsOwnership struct {
	Team  string `query:"team" maxLength:"128" doc:"Only records of this team."`
	Owner string `query:"owner" maxLength:"128" doc:"Only records of this owner (user ID)."`
}

// AnalyticsCustomers selects the orders of the customer reports.
type AnalyticsCustomers struct {
	AnalyticsPeriod
	AnalyticsOwnership
	Customer string `query:"customer" enum:"company,contact" default:"company" doc:"Whose orders are grouped: the order's company or its contact."`
	Currency string `query:"currency" maxLength:"3" doc:"Only orders in this currency; by default amounts are added as they are."`
}

// AnalyticsPage pages the customers of a report.
type AnalyticsPage struct {
	Offset int `query:"offset" minimum:"0" default:"0"`
	Limit  int `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

// AnalyticsCLV are the assumptions of the lifetime value.
type AnalyticsCLV struct {
	Lifetime float64 `query:"lifetime" minimum:"0" maximum:"100" default:"3" doc:"Expected customer lifetime in years."`
	Margin   float64 `query:"margin" minimum:"0" maximum:"1" default:"1" doc:"Share of revenue that is profit (1 = revenue-based CLV)."`
}

type customerQuery = AnalyticsCustomers

type rfmInput struct {
	AnalyticsCustomers
	AnalyticsPage
}

type clvInput struct {
	AnalyticsCustomers
	AnalyticsCLV
	AnalyticsPage
}

type clvCSVInput struct {
	AnalyticsCustomers
	AnalyticsCLV
}

type movesInput struct {
	AnalyticsPeriod
	Customer string `query:"customer" enum:"company,contact" default:"company"`
	Latest   int    `query:"latest" minimum:"0" maximum:"1000" default:"100" doc:"How many of the most recent moves to list."`
}

type loyaltyInput struct {
	AnalyticsPeriod
	AnalyticsOwnership
	Entity string `query:"entity" enum:"contact,company" default:"contact"`
}

type funnelInput struct {
	AnalyticsPeriod
	AnalyticsOwnership
	Entity string `query:"entity" enum:"lead,deal" default:"lead" doc:"Leads by status or deals by stage, created in the period."`
	By     string `query:"by" enum:"source,owner,month" doc:"Group the funnel by the lead's source, the owner or the month of creation."`
}

type serviceInput struct {
	AnalyticsPeriod
	AnalyticsOwnership
}

type processInput struct {
	Key     string `path:"key" maxLength:"64" doc:"Process key."`
	Version int    `query:"version" minimum:"0" doc:"One version; all by default."`
}

type recomputeInput struct {
	Body struct {
		Customer   string `json:"customer" enum:"company,contact" doc:"Which customers to segment."`
		From       string `json:"from,omitempty" doc:"First day of the scoring period (YYYY-MM-DD)."`
		To         string `json:"to,omitempty" doc:"Last day of the scoring period; by default the day of the run."`
		WindowDays int    `json:"windowDays,omitempty" minimum:"0" maximum:"7300" doc:"Without from: the period's length in days (365 by default)."`
		Rules      string `json:"rules,omitempty" maxLength:"64" doc:"Key of the published decision table deciding the segment; rfm-segments-<customer> by default."`
	}
}

type runInput struct {
	Customer string `path:"customer" enum:"company,contact"`
}

type scheduleInput struct {
	Customer string `path:"customer" enum:"company,contact"`
	Body     struct {
		Every      string `json:"every,omitempty" doc:"How often, as a Go duration (\"24h\"); at least 1m."`
		Cron       string `json:"cron,omitempty" maxLength:"100" doc:"Or when, as a cron expression (\"0 3 * * *\")."`
		WindowDays int    `json:"windowDays,omitempty" minimum:"0" maximum:"7300" doc:"The scoring period's length in days, ending on each run's day (365 by default)."`
		Rules      string `json:"rules,omitempty" maxLength:"64"`
	}
}

func (s *Server) registerAnalytics() {
	tags := []string{"analytics"}
	read := Access{Permission: access.AnalyticsRead}
	get := func(id, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: http.MethodGet, Path: "/api/v1/analytics" + path, Tags: tags, Summary: summary,
			Description: desc, Errors: []int{http.StatusUnprocessableEntity}}
	}
	Register(s, get("analyticsRFM", "/rfm", "RFM analysis",
		"Recency, frequency and monetary value of every customer's orders in the period, scored in quintiles 1-5: a customer's score is "+
			"1 + ⌊5 × (customers with a smaller value) ÷ customers⌋, so equal values share a score. R ranks the last order's date, F the "+
			"number of orders, M the revenue. Cancelled orders do not count. Only orders the caller may read count."), read,
		func(ctx context.Context, in *rfmInput) (*struct{ Body *analytics.RFMReport }, error) {
			p, err := s.customerParams(in.AnalyticsCustomers)
			if err != nil {
				return nil, err
			}
			rep, err := s.deps.Analytics.RFM(ctx, s.viewer(ctx), p, in.Offset, in.Limit)
			if err != nil {
				return nil, analyticsError(err)
			}
			return &struct{ Body *analytics.RFMReport }{rep}, nil
		})
	Register(s, get("analyticsRFMCSV", "/rfm/csv", "RFM analysis as CSV", "Every customer of the RFM analysis, one per line."), read,
		func(ctx context.Context, in *customerQuery) (*streamOutput, error) {
			return s.customersCSV(ctx, *in, analytics.CLVParams{}, "rfm.csv")
		})
	report(s, get("analyticsPareto", "/pareto", "Pareto analysis",
		"The share of revenue of the top 20% of customers (⌈20% × customers⌉ by revenue), the cumulative curve in 5% steps, and revenue per segment."),
		get("analyticsParetoCSV", "/pareto/csv", "Pareto curve as CSV", "The Pareto curve: share of customers, customers, share of revenue."), read, "pareto.csv",
		func(ctx context.Context, in *customerQuery) (*analytics.ParetoReport, error) {
			p, err := s.customerParams(*in)
			if err != nil {
				return nil, err
			}
			rep, err := s.deps.Analytics.Pareto(ctx, s.viewer(ctx), p)
			return rep, analyticsError(err)
		},
		func(rep *analytics.ParetoReport) ([]string, [][]string) {
			rows := [][]string{}
			for _, c := range rep.Curve {
				rows = append(rows, []string{fmt.Sprint(c.CustomerShare), fmt.Sprint(c.Customers), fmt.Sprint(c.RevenueShare)})
			}
			return []string{"customerShare", "customers", "revenueShare"}, rows
		})
	Register(s, get("analyticsCLV", "/clv", "Customer lifetime value", analytics.CLVFormula+". Per customer and per stored segment."), read,
		func(ctx context.Context, in *clvInput) (*struct{ Body *analytics.CLVReport }, error) {
			p, err := s.customerParams(in.AnalyticsCustomers)
			if err != nil {
				return nil, err
			}
			rep, err := s.deps.Analytics.CLV(ctx, s.viewer(ctx), p, analytics.CLVParams{LifetimeYears: in.Lifetime, Margin: in.Margin}, in.Offset, in.Limit)
			if err != nil {
				return nil, analyticsError(err)
			}
			return &struct{ Body *analytics.CLVReport }{rep}, nil
		})
	Register(s, get("analyticsCLVCSV", "/clv/csv", "Customer lifetime value as CSV", "Every customer with its lifetime value."), read,
		func(ctx context.Context, in *clvCSVInput) (*streamOutput, error) {
			return s.customersCSV(ctx, in.AnalyticsCustomers, analytics.CLVParams{LifetimeYears: in.Lifetime, Margin: in.Margin}, "clv.csv")
		})
	Register(s, get("analyticsSegmentMoves", "/segments/moves", "Segment moves",
		"How customers moved between segments in the period (from their records' history): counts from → to, by month, and the latest moves."), read,
		func(ctx context.Context, in *movesInput) (*struct{ Body *analytics.MovesReport }, error) {
			p, err := s.period(in.From, in.To)
			if err != nil {
				return nil, err
			}
			rep, err := s.deps.Analytics.SegmentMoves(ctx, s.viewer(ctx), in.Customer, p, in.Latest)
			if err != nil {
				return nil, analyticsError(err)
			}
			return &struct{ Body *analytics.MovesReport }{rep}, nil
		})
	Register(s, get("analyticsSegmentMovesCSV", "/segments/moves/csv", "Segment moves as CSV", "Every segment move in the period."), read,
		func(ctx context.Context, in *movesInput) (*streamOutput, error) {
			p, err := s.period(in.From, in.To)
			if err != nil {
				return nil, err
			}
			v := s.viewer(ctx)
			if !v.CanRead(in.Customer) || v.Hidden(in.Customer, analytics.FieldSegment) {
				return nil, analyticsError(&analytics.ForbiddenError{Entity: in.Customer, Field: analytics.FieldSegment})
			}
			return s.stream("text/csv; charset=utf-8", "segment-moves.csv", func(ctx context.Context, w io.Writer) error {
				cw := csv.NewWriter(w)
				if err := cw.Write(analytics.MovesCSVHeader); err != nil {
					return err
				}
				_, err := s.deps.Analytics.SegmentMovesEach(ctx, v, in.Customer, p, func(m analytics.Move) error { return cw.Write(m.CSV()) })
				cw.Flush()
				if err != nil {
					return err
				}
				return cw.Error()
			}), nil
		})
	report(s, get("analyticsLoyalty", "/loyalty", "Loyalty ladder",
		"Today's customers per stage of the loyalty ladder and the moves between stages in the period, from the records' history."),
		get("analyticsLoyaltyCSV", "/loyalty/csv", "Loyalty ladder as CSV", "Stages (kind stage) and monthly transitions (kind move)."), read, "loyalty.csv",
		s.loyalty, func(rep *analytics.LoyaltyReport) ([]string, [][]string) {
			rows := [][]string{}
			for _, st := range rep.Stages {
				rows = append(rows, []string{"stage", "", "", st.Stage, fmt.Sprint(st.Count), fmt.Sprint(st.Share)})
			}
			for _, t := range rep.ByMonth {
				rows = append(rows, []string{"move", t.Month, t.From, t.To, fmt.Sprint(t.Count), ""})
			}
			return []string{"kind", "month", "from", "stage", "count", "share"}, rows
		})
	report(s, get("analyticsFunnel", "/funnel", "Sales funnel",
		"Conversion between lead statuses (new → contacted → qualified → converted) or deal stages (qualification → … → won) of the "+
			"records created in the period, from their history: a record that reached a stage passed the earlier ones. Time in stage, win rate."),
		get("analyticsFunnelCSV", "/funnel/csv", "Sales funnel as CSV", "One line per group and stage."), read, "funnel.csv",
		s.funnel, func(rep *analytics.FunnelReport) ([]string, [][]string) { return analytics.FunnelCSVHeader, rep.CSV() })
	report(s, get("analyticsService", "/service", "Service: complaints",
		"SLA compliance (acknowledged by responseDueAt, resolved by resolutionDueAt; not done and past due counts as breached), mean hours "+
			"to acknowledge and resolve, CSAT average and distribution, and reopen rate of the complaints created in the period, in total, "+
			"by severity and team, and by month."),
		get("analyticsServiceCSV", "/service/csv", "Service as CSV", "The total, each severity and team, then each month."), read, "service.csv",
		s.service, func(rep *analytics.ServiceReport) ([]string, [][]string) {
			return analytics.ServiceCSVHeader, rep.CSV()
		})
	report(s, get("analyticsProcess", "/processes/{key}", "Process figures",
		"Instances per state (from Temporal's visibility) and, per element, runs, incident rate, mean and p90 duration as the interpreter reports them."),
		get("analyticsProcessCSV", "/processes/{key}/csv", "Process elements as CSV", "One line per element."),
		Access{Permission: access.InstancesRead}, "process-elements.csv",
		s.processReport, func(rep *analytics.ProcessReport) ([]string, [][]string) {
			rows := [][]string{}
			for _, e := range rep.Elements {
				rows = append(rows, e.CSV())
			}
			return analytics.ElementsCSVHeader, rows
		})
	s.registerSegmentRuns(tags)
}

// report registers a report's JSON operation and its CSV twin, both computed by compute from the same
// input; rows renders the report as a CSV header and lines.
func report[I, R any](s *Server, op, csvOp huma.Operation, acc Access, file string, compute func(context.Context, *I) (R, error), rows func(R) ([]string, [][]string)) {
	Register(s, op, acc, func(ctx context.Context, in *I) (*struct{ Body R }, error) {
		rep, err := compute(ctx, in)
		if err != nil {
			return nil, err
		}
		return &struct{ Body R }{rep}, nil
	})
	Register(s, csvOp, acc, func(ctx context.Context, in *I) (*streamOutput, error) {
		rep, err := compute(ctx, in)
		if err != nil {
			return nil, err
		}
		header, lines := rows(rep)
		return s.csvRows(file, header, lines), nil
	})
}

func (s *Server) registerSegmentRuns(tags []string) {
	if s.deps.Temporal == nil {
		return
	}
	manage := Access{Permission: access.AnalyticsManage}
	Register(s, huma.Operation{OperationID: "analyticsRecomputeSegments", Method: http.MethodPost, Path: "/api/v1/analytics/segments/recompute", Tags: tags,
		Summary: "Recompute customer segments now",
		Description: "Starts (or joins, if one is running) a segment run: every customer is scored over the period, its segment decided by the " +
			"published decision table and stored on the record where it changed, so the record's history shows the move and the rule. " +
			"Follow it at GET /api/v1/analytics/segments/runs/{customer}.",
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusUnprocessableEntity}}, manage,
		func(ctx context.Context, in *recomputeInput) (*struct{ Body wfanalytics.RunStatus }, error) {
			b := in.Body
			wi := wfanalytics.Input{Customer: b.Customer, From: b.From, To: b.To, WindowDays: b.WindowDays, Rules: b.Rules, User: PrincipalFrom(ctx).User.ID}
			if err := s.checkSegmentInput(ctx, wi); err != nil {
				return nil, err
			}
			run, err := wfanalytics.Start(ctx, s.deps.Temporal, s.deps.TaskQueue, wi)
			if err != nil {
				return nil, err
			}
			return &struct{ Body wfanalytics.RunStatus }{wfanalytics.RunStatus{ID: run.GetID(), RunID: run.GetRunID(), Status: "running"}}, nil
		})
	Register(s, huma.Operation{OperationID: "analyticsSegmentRun", Method: http.MethodGet, Path: "/api/v1/analytics/segments/runs/{customer}", Tags: tags,
		Summary: "The latest segment run", Description: "Its state and, once finished, what it did.", Errors: []int{http.StatusNotFound}},
		Access{Permission: access.AnalyticsRead},
		func(ctx context.Context, in *runInput) (*struct{ Body wfanalytics.RunStatus }, error) {
			st, found, err := wfanalytics.Status(ctx, s.deps.Temporal, in.Customer)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, NewProblem(http.StatusNotFound, "no segment run of "+in.Customer+" records yet")
			}
			return &struct{ Body wfanalytics.RunStatus }{st}, nil
		})
	Register(s, huma.Operation{OperationID: "analyticsScheduleSegments", Method: http.MethodPut, Path: "/api/v1/analytics/segments/schedule/{customer}", Tags: tags,
		Summary: "Recompute customer segments on a schedule", Description: "A Temporal schedule runs the segment run every interval or by cron; it replaces an earlier one.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusUnprocessableEntity}}, manage,
		func(ctx context.Context, in *scheduleInput) (*struct{}, error) {
			b := in.Body
			var every time.Duration
			if b.Cron == "" {
				d, err := time.ParseDuration(b.Every)
				if err != nil || d < time.Minute {
					return nil, invalidBody("/every", "must be a duration of at least 1m, e.g. \"24h\", unless cron is given")
				}
				every = d
			} else if b.Every != "" {
				return nil, invalidBody("/cron", "give either every or cron, not both")
			}
			wi := wfanalytics.Input{Customer: in.Customer, WindowDays: b.WindowDays, Rules: b.Rules}
			if err := s.checkSegmentInput(ctx, wi); err != nil {
				return nil, err
			}
			if err := wfanalytics.Schedule(ctx, s.deps.Temporal, s.deps.TaskQueue, wi, every, b.Cron); err != nil {
				return nil, invalidBody("/cron", err.Error())
			}
			return nil, nil
		})
	Register(s, huma.Operation{OperationID: "analyticsSegmentSchedule", Method: http.MethodGet, Path: "/api/v1/analytics/segments/schedule/{customer}", Tags: tags,
		Summary: "The segment schedule", Description: "When segments of the customer entity are recomputed (every or cron, as set), the runs' window and rules, " +
			"the next run times and the last run; 404 when none is set.", Errors: []int{http.StatusNotFound}},
		Access{Permission: access.AnalyticsRead},
		func(ctx context.Context, in *runInput) (*struct{ Body wfanalytics.ScheduleView }, error) {
			v, found, err := wfanalytics.CurrentSchedule(ctx, s.deps.Temporal, in.Customer)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, NewProblem(http.StatusNotFound, "segments of "+in.Customer+" records are not recomputed on a schedule")
			}
			return &struct{ Body wfanalytics.ScheduleView }{v}, nil
		})
	Register(s, huma.Operation{OperationID: "analyticsUnscheduleSegments", Method: http.MethodDelete, Path: "/api/v1/analytics/segments/schedule/{customer}", Tags: tags,
		Summary: "Stop recomputing segments on a schedule", DefaultStatus: http.StatusNoContent}, manage,
		func(ctx context.Context, in *runInput) (*struct{}, error) {
			return nil, wfanalytics.Unschedule(ctx, s.deps.Temporal, in.Customer)
		})
}

// checkSegmentInput refuses a segment run that could only fail: bad dates or an unusable rule set.
func (s *Server) checkSegmentInput(ctx context.Context, in wfanalytics.Input) error {
	if _, err := in.Period(time.Now()); err != nil {
		return bodyError(err)
	}
	if err := s.deps.Analytics.CheckSegmentRules(ctx, in.Customer, in.Rules); err != nil {
		return bodyError(err)
	}
	return nil
}

func invalidBody(pointer, msg string) *Problem {
	p := NewProblem(http.StatusUnprocessableEntity, "invalid "+pointer[1:]+": "+msg)
	p.Errors = []FieldError{{Pointer: pointer, Message: msg}}
	return p
}

// bodyError is analyticsError for parameters that came in the body.
func bodyError(err error) error {
	var ie *analytics.InputError
	if errors.As(err, &ie) {
		return invalidBody("/"+ie.Param, ie.Message)
	}
	return analyticsError(err)
}

func (s *Server) period(from, to string) (analytics.Period, error) {
	p, err := analytics.ParsePeriod(from, to, time.Now())
	if err != nil {
		return p, analyticsError(err)
	}
	return p, nil
}

func (s *Server) customerParams(q customerQuery) (analytics.CustomerParams, error) {
	p, err := s.period(q.From, q.To)
	return analytics.CustomerParams{Customer: q.Customer, Period: p, Currency: q.Currency, Team: q.Team, Owner: q.Owner}, err
}

func (s *Server) customersCSV(ctx context.Context, q customerQuery, clv analytics.CLVParams, name string) (*streamOutput, error) {
	p, err := s.customerParams(q)
	if err != nil {
		return nil, err
	}
	rep, err := s.deps.Analytics.CLV(ctx, s.viewer(ctx), p, clv, 0, 1<<31-1)
	if err != nil {
		return nil, analyticsError(err)
	}
	rows := make([][]string, len(rep.Items))
	for i, c := range rep.Items {
		rows[i] = c.CSV()
	}
	return s.csvRows(name, analytics.CustomersCSVHeader, rows), nil
}

func (s *Server) loyalty(ctx context.Context, in *loyaltyInput) (*analytics.LoyaltyReport, error) {
	p, err := s.period(in.From, in.To)
	if err != nil {
		return nil, err
	}
	rep, err := s.deps.Analytics.Loyalty(ctx, s.viewer(ctx), in.Entity, p, analytics.Ownership{Team: in.Team, Owner: in.Owner})
	return rep, analyticsError(err)
}

func (s *Server) funnel(ctx context.Context, in *funnelInput) (*analytics.FunnelReport, error) {
	p, err := s.period(in.From, in.To)
	if err != nil {
		return nil, err
	}
	rep, err := s.deps.Analytics.Funnel(ctx, s.viewer(ctx), analytics.FunnelParams{Entity: in.Entity, Period: p, By: in.By,
		Own: analytics.Ownership{Team: in.Team, Owner: in.Owner}})
	return rep, analyticsError(err)
}

func (s *Server) service(ctx context.Context, in *serviceInput) (*analytics.ServiceReport, error) {
	p, err := s.period(in.From, in.To)
	if err != nil {
		return nil, err
	}
	rep, err := s.deps.Analytics.Service(ctx, s.viewer(ctx), analytics.ServiceParams{Period: p, Own: analytics.Ownership{Team: in.Team, Owner: in.Owner}})
	return rep, analyticsError(err)
}

func (s *Server) processReport(ctx context.Context, in *processInput) (*analytics.ProcessReport, error) {
	rep := &analytics.ProcessReport{Process: in.Key, Version: in.Version, Instances: map[string]int64{}}
	if s.deps.Temporal != nil {
		states, err := wfanalytics.InstanceStates(ctx, s.deps.Temporal, s.deps.Namespace, in.Key, in.Version)
		if err != nil {
			return nil, err
		}
		rep.Instances = states
	}
	els, err := s.deps.Analytics.ProcessElements(ctx, in.Key, in.Version)
	if err != nil {
		return nil, err
	}
	rep.Elements = els
	return rep, nil
}

// csvRows answers with a CSV document of rows already computed (so any error was answered as a problem
// before the first byte).
func (s *Server) csvRows(name string, header []string, rows [][]string) *streamOutput {
	return s.stream("text/csv; charset=utf-8", name, func(_ context.Context, w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	})
}

// analyticsError maps the engine's refusals to problems: a bad parameter is 422 naming it, a report over
// records or fields the caller may not read is 403.
func analyticsError(err error) error {
	if err == nil {
		return nil
	}
	var (
		ie *analytics.InputError
		fe *analytics.ForbiddenError
	)
	switch {
	case errors.As(err, &ie):
		p := NewProblem(http.StatusUnprocessableEntity, "invalid "+ie.Param+": "+ie.Message)
		p.Errors = []FieldError{{Parameter: ie.Param, Message: ie.Message}}
		return p
	case errors.As(err, &fe):
		return Typed(http.StatusForbidden, "forbidden", fe.Error())
	case errors.Is(err, records.ErrNotFound):
		return NewProblem(http.StatusNotFound, err.Error())
	}
	return err
}

// viewer is the caller's record access as the analytics engine asks for it.
func (s *Server) viewer(ctx context.Context) *recordViewer {
	return &recordViewer{s: s, ctx: ctx, decisions: map[string]access.Decision{}}
}

// recordViewer answers the engine's access questions from the caller's record decisions (roles, teams,
// token scopes), taking one decision per entity.
type recordViewer struct {
	s         *Server
	ctx       context.Context
	decisions map[string]access.Decision
}

func (v *recordViewer) decision(entity string) access.Decision {
	d, ok := v.decisions[entity]
	if !ok {
		d = v.s.recordDecision(v.ctx, entity)
		v.decisions[entity] = d
	}
	return d
}

// CanRead implements analytics.Viewer.
func (v *recordViewer) CanRead(entity string) bool { return v.decision(entity).Can(access.ActionRead) }

// Scope implements analytics.Viewer.
func (v *recordViewer) Scope(entity string) bson.D {
	return v.decision(entity).Filter(access.ActionRead)
}

// Hidden implements analytics.Viewer.
func (v *recordViewer) Hidden(entity, field string) bool { return v.decision(entity).Hidden(field) }
