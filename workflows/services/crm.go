package services

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/activity"

	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Task types of the CRM processes.
const (
	TypeRecordMatch = "record.match"
	TypeRulesAssign = "rules.assign"
	TypeLeadConvert = "lead.convert"
)

// CRMTaskTypes are the task types this package adds to the built-in ones; definitions accept them.
func CRMTaskTypes() []string {
	return []string{TypeRecordMatch, TypeRulesAssign, TypeLeadConvert, TypeSurveyCreate}
}

// Match runs record.match tasks: the first live record of an entity (header entity) holding one of the
// values given in the input keys, an object of field → value (a list field holds the value when it is
// among its items). Emails and phones are compared normalised, as stored. Empty values are skipped.
// The result is {found, record, field}; the identity's scope and hidden fields apply.
type Match struct{ Records Records }

// Handle looks the keys up in their order.
func (m Match) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	entity := entityOf(req)
	keys, _ := req.Inputs["keys"].(map[string]any)
	if entity == "" || keys == nil {
		return nil, &process.BPMNError{Code: "CONFIG", Message: "record.match needs an entity header and a keys input (field → value)"}
	}
	info, err := m.Records.Store.Schema(ctx, entity)
	if err != nil {
		return nil, recordError(err)
	}
	d, err := m.Records.decision(ctx, entity)
	if err != nil {
		return nil, err
	}
	fields := make([]string, 0, len(keys))
	for f := range keys {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		v, ok := keys[f].(string)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		fd := info.Entity.Field(f)
		if fd == nil {
			return nil, &process.BPMNError{Code: CodeValidation, Message: fmt.Sprintf("record.match: %s has no field %q", entity, f)}
		}
		filter := f + " == " + strconv.Quote(v)
		if fd.Type == "list" {
			filter = strconv.Quote(v) + " in " + f
		}
		p := records.ListParams{Filter: filter, Limit: 1, Access: d}
		page, err := m.Records.Store.List(ctx, entity, p)
		if err != nil {
			var pe *records.ParamError
			if errors.As(err, &pe) { // a value the field cannot hold (not an email, not a phone) matches nothing
				continue
			}
			return nil, recordError(err)
		}
		if len(page.Items) > 0 {
			return map[string]any{"found": true, "field": f, "record": map[string]any(page.Items[0])}, nil
		}
	}
	return map[string]any{"found": false, "record": nil}, nil
}

// TeamMembers lists a team's users; identity.Store implements it.
type TeamMembers interface {
	ListUsers(ctx context.Context, q identity.UserQuery) ([]identity.User, error)
}

// Assign runs rules.assign tasks: the assignment rule set (header ruleset) over the stored record
// (input recordId, header or input entity) picks a person — the record's own owner, a territory's team,
// round robin or least loaded — from the teams' current members (disabled users are unavailable). Least
// loaded counts each member's records of the entity matching the header open (a filter, e.g.
// status in ["new", "contacted"]). Round-robin positions are kept per rule set and team, moved
// atomically. The result is {assignee, team, route, queue, reason}; assignee is empty when the team
// has nobody available (team and route still name where the work belongs), so the process can offer
// the work to the team instead.
type Assign struct {
	Rulesets *rulesets.Store
	Records  Records
	Users    TeamMembers
	Cursors  *mongo.Collection
	Backend  *storage.Backend
}

type cursors struct {
	Teams map[string]int `bson:"teams"`
}

// Handle assigns one record.
func (a Assign) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	key := req.Headers["ruleset"]
	id, _ := req.Inputs["recordId"].(string)
	if key == "" || id == "" {
		return nil, &process.BPMNError{Code: "CONFIG", Message: "rules.assign needs a ruleset header and a recordId input"}
	}
	compiled, _, err := a.Rulesets.Published(ctx, key, 0)
	if err != nil {
		return nil, &process.BPMNError{Code: CodeNotFound, Message: err.Error()}
	}
	def, err := a.Rulesets.Resolve(ctx, key, "latest")
	if err != nil || def.Assignment == nil {
		return nil, &process.BPMNError{Code: CodeValidation, Message: fmt.Sprintf("rule set %s is not an assignment rule set", key)}
	}
	rec, err := a.Records.Get(ctx, def.Entity, id)
	if err != nil {
		return nil, err
	}
	teams := map[string][]rules.Candidate{}
	routes := append([]rules.Route{}, def.Assignment.Routes...)
	if def.Assignment.Default != nil {
		routes = append(routes, *def.Assignment.Default)
	}
	for _, r := range routes {
		if r.Team == "" || teams[r.Team] != nil {
			continue
		}
		users, err := a.Users.ListUsers(ctx, identity.UserQuery{Team: r.Team, Limit: 500})
		if err != nil {
			return nil, err
		}
		list := []rules.Candidate{}
		for _, u := range users {
			c := rules.Candidate{ID: u.ID, Unavailable: u.Disabled}
			if r.Strategy == rules.StrategyLeastLoaded && !u.Disabled {
				if c.OpenWork, err = a.openWork(ctx, def.Entity, req.Headers["open"], u.ID); err != nil {
					return nil, err
				}
			}
			list = append(list, c)
		}
		teams[r.Team] = list
	}
	now := time.Now() // ok: activity — rules see the task's scheduled time below
	if activity.IsActivity(ctx) {
		now = activity.GetInfo(ctx).ScheduledTime
	}
	var picked *rules.Assignment
	_, err = storage.Mutate(ctx, a.Backend, a.Cursors, key, func(cur cursors, _ bool) (cursors, storage.Op, error) {
		if cur.Teams == nil {
			cur.Teams = map[string]int{}
		}
		as, err := compiled.Assign(rec, now, &rules.AssignContext{Teams: teams, Cursors: cur.Teams})
		if errors.Is(err, rules.ErrNoneAvailable) {
			picked = &rules.Assignment{Reason: err.Error()}
			// The route still names the team (and queue) the work waits for.
			if o, rerr := compiled.Evaluate(rec, now); rerr == nil && o.Assignment != nil {
				picked.Route, picked.Team, picked.Queue = o.Assignment.Route, o.Assignment.Team, o.Assignment.Queue
			}
			return cur, storage.Skip, nil
		}
		if err != nil {
			return cur, storage.Skip, err
		}
		picked = as
		if as.Assignee == "" || as.Team == "" {
			return cur, storage.Skip, nil
		}
		cur.Teams[as.Team] = as.Cursor
		return cur, storage.Write, nil
	})
	if err != nil {
		return nil, &process.BPMNError{Code: CodeValidation, Message: err.Error()}
	}
	return map[string]any{"assignee": picked.Assignee, "team": picked.Team, "route": picked.Route, "queue": picked.Queue, "reason": picked.Reason}, nil
}

func (a Assign) openWork(ctx context.Context, entity, open, owner string) (int, error) {
	filter := "owner == " + strconv.Quote(owner)
	if open != "" {
		filter += " and (" + open + ")"
	}
	page, err := a.Records.Store.List(ctx, entity, records.ListParams{Filter: filter, Limit: 1, Count: true})
	if err != nil {
		return 0, recordError(err)
	}
	if page.Total == nil {
		return 0, nil
	}
	return int(*page.Total), nil
}

// Convert runs lead.convert tasks: a qualified lead (input leadId) becomes a company (unless it is
// linked to one or names none), a contact (unless linked) and a deal, and the lead is marked converted
// and linked to them. Each record is created once whatever retries or repeated conversions happen
// (idempotency keys derived from the lead); a company or contact another record already holds (same
// tax ID, email or phone) is linked instead of duplicated. The result is {company, contact, deal}.
type Convert struct{ Records Records }

// Handle converts one lead.
func (c Convert) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	id, _ := req.Inputs["leadId"].(string)
	if id == "" {
		return nil, &process.BPMNError{Code: "CONFIG", Message: "lead.convert needs a leadId input"}
	}
	lead, err := c.Records.Get(ctx, "lead", id)
	if err != nil {
		return nil, err
	}
	str := func(k string) string {
		s, _ := lead[k].(string)
		return s
	}
	out := map[string]any{"company": lead["company"], "contact": lead["contact"], "deal": lead["deal"]}
	if str("status") == "converted" && str("deal") != "" {
		return out, nil
	}
	owner := str("owner")
	withOwner := func(m map[string]any) map[string]any {
		if owner != "" {
			m["owner"] = owner
		}
		if t := str("team"); t != "" {
			m["team"] = t
		}
		return m
	}
	company := str("company")
	if company == "" && str("companyName") != "" {
		f := withOwner(map[string]any{"name": str("companyName")})
		if str("taxId") != "" {
			f["taxId"] = str("taxId")
		}
		if company, err = c.create(ctx, "company", f, "lead:"+id+":company"); err != nil {
			return nil, err
		}
	}
	contact := str("contact")
	if contact == "" {
		first, last, _ := strings.Cut(strings.TrimSpace(str("name")), " ")
		f := withOwner(map[string]any{"firstName": first, "loyaltyStage": "prospect"})
		if last != "" {
			f["lastName"] = strings.TrimSpace(last)
		}
		if e := str("email"); e != "" {
			f["emails"] = []any{e}
		}
		if p := str("phone"); p != "" {
			f["phones"] = []any{p}
		}
		if company != "" {
			f["company"] = company
		}
		if contact, err = c.create(ctx, "contact", f, "lead:"+id+":contact"); err != nil {
			return nil, err
		}
	}
	name := str("companyName")
	if name == "" {
		name = str("name")
	}
	deal := withOwner(map[string]any{"name": name, "stage": "qualification", "lead": id, "contact": contact,
		"amount": map[string]any{"amount": 0, "currency": "RUB"}})
	if b, ok := lead["budget"].(map[string]any); ok {
		deal["amount"] = b
	}
	if company != "" {
		deal["company"] = company
	}
	dealID, err := c.create(ctx, "deal", deal, "lead:"+id+":deal")
	if err != nil {
		return nil, err
	}
	patch := map[string]any{"status": "converted", "contact": contact, "deal": dealID}
	if company != "" {
		patch["company"] = company
	}
	if _, err := c.Records.Update(ctx, "lead", id, patch); err != nil {
		return nil, err
	}
	return map[string]any{"company": nilIfEmpty(company), "contact": contact, "deal": dealID}, nil
}

// create creates a record once per key; a record holding the same dedupe key is used instead.
func (c Convert) create(ctx context.Context, entity string, fields map[string]any, key string) (string, error) {
	d, err := c.Records.decision(ctx, entity)
	if err != nil {
		return "", err
	}
	if err := checkWrite(d, fields); err != nil {
		return "", err
	}
	o := c.Records.opts(ctx)
	o.IdempotencyKey = key
	res, err := c.Records.Store.Create(ctx, entity, fields, o)
	var de *records.DuplicateError
	if errors.As(err, &de) && de.ExistingID != "" {
		return de.ExistingID, nil
	}
	if err != nil {
		return "", recordError(err)
	}
	id, _ := res.Record["id"].(string)
	return id, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
