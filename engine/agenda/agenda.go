// Package agenda answers "whom do I call today": a person's open Task records (calls and follow-ups the
// cadences create), the leads they must qualify and the complaints they must answer or resolve, due
// today or overdue — each with the record's name, phone and a link, never a process instance ID —
// ordered by priority: overdue first, then deal value, loyalty stage and lead score.
package agenda

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
)

// Kinds of agenda items.
const (
	KindTask      = "task"
	KindLead      = "lead"
	KindComplaint = "complaint"
)

// MaxItems bounds an agenda.
const MaxItems = 200

// Item is one thing to do, about one record.
type Item struct {
	Kind string `json:"kind" enum:"task,lead,complaint"`
	// Title says what to do: the task's title, "Qualify", "Answer" or "Resolve".
	Title string `json:"title"`
	// Entity and ID name the record to work on (a task's contact, deal or related record).
	Entity string `json:"entity"`
	ID     string `json:"id"`
	// TaskID is the Task record of a task item.
	TaskID  string    `json:"taskId,omitempty"`
	Name    string    `json:"name"`
	Phone   string    `json:"phone,omitempty"`
	Email   string    `json:"email,omitempty"`
	Link    string    `json:"link"`
	DueAt   time.Time `json:"dueAt"`
	Overdue bool      `json:"overdue"`
	// DealValue, LoyaltyStage and LeadScore are what the order weighs after overdue.
	DealValue    float64 `json:"dealValue,omitempty"`
	LoyaltyStage string  `json:"loyaltyStage,omitempty"`
	LeadScore    float64 `json:"leadScore,omitempty"`
}

// Viewer is what the person may see: their access decision on an entity's records (its scope and
// hidden fields apply to every list and read; nil: everything), ok false when they may read none.
type Viewer interface {
	Decision(entity string) (d *access.Decision, ok bool)
}

// Records lists and reads records; records.Store implements it.
type Records interface {
	List(ctx context.Context, entity string, p records.ListParams) (records.RecordPage, error)
	Get(ctx context.Context, entity, id string) (records.Record, error)
}

// Request is whose day, when and where.
type Request struct {
	UserID string
	Now    time.Time
	// Location is the person's time zone: "today" ends at its midnight.
	Location *time.Location
	// Link makes the admin UI address of a record.
	Link func(entity, id string) string
}

// stages ranks the loyalty ladder: a partner before an advocate before ... a prospect.
var stages = []string{"prospect", "customer", "client", "supporter", "advocate", "partner"}

// Build collects the person's day.
func Build(ctx context.Context, recs Records, v Viewer, r Request) ([]Item, error) {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	local := r.Now.In(loc)
	end := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc).UTC()
	until, me := strconv.Quote(end.Format(time.RFC3339)), strconv.Quote(r.UserID)
	b := builder{ctx: ctx, recs: recs, v: v, r: r}
	b.list("task", fmt.Sprintf(`assignee == %s && status in ["open", "inProgress"] && dueAt != nil && dueAt < %s`, me, until), b.task)
	b.list("lead", fmt.Sprintf(`owner == %s && status in ["new", "contacted"] && qualifyDueAt != nil && qualifyDueAt < %s`, me, until), b.lead)
	b.list("complaint", fmt.Sprintf(`owner == %s && status in ["new", "inProgress"] && ((acknowledgedAt == nil && responseDueAt != nil && responseDueAt < %s) || (resolutionDueAt != nil && resolutionDueAt < %s))`, me, until, until), b.complaint)
	if b.err != nil {
		return nil, b.err
	}
	slices.SortStableFunc(b.items, func(a, c Item) int {
		switch {
		case a.Overdue != c.Overdue:
			if a.Overdue {
				return -1
			}
			return 1
		case a.DealValue != c.DealValue:
			return cmpDesc(a.DealValue, c.DealValue)
		case a.LoyaltyStage != c.LoyaltyStage:
			return cmpDesc(float64(slices.Index(stages, a.LoyaltyStage)), float64(slices.Index(stages, c.LoyaltyStage)))
		case a.LeadScore != c.LeadScore:
			return cmpDesc(a.LeadScore, c.LeadScore)
		}
		return a.DueAt.Compare(c.DueAt)
	})
	if len(b.items) > MaxItems {
		b.items = b.items[:MaxItems]
	}
	return b.items, nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

type builder struct {
	ctx   context.Context
	recs  Records
	v     Viewer
	r     Request
	items []Item
	err   error
}

func (b *builder) list(entity, filter string, each func(records.Record)) {
	if b.err != nil {
		return
	}
	d, ok := b.v.Decision(entity)
	if !ok {
		return
	}
	page, err := b.recs.List(b.ctx, entity, records.ListParams{Filter: filter, Limit: MaxItems, Access: d})
	if err != nil {
		b.err = fmt.Errorf("agenda: %s: %w", entity, err)
		return
	}
	for _, rec := range page.Items {
		each(rec)
	}
}

// get reads a related record the person may see; nil otherwise.
func (b *builder) get(entity, id string) records.Record {
	if entity == "" || id == "" {
		return nil
	}
	d, ok := b.v.Decision(entity)
	if !ok {
		return nil
	}
	rec, err := b.recs.Get(b.ctx, entity, id)
	if err != nil {
		if !errors.Is(err, records.ErrNotFound) {
			b.err = fmt.Errorf("agenda: %s %s: %w", entity, id, err)
		}
		return nil
	}
	if d == nil {
		return rec
	}
	if !d.InScope(access.ActionRead, rec) {
		return nil
	}
	return d.Strip(rec)
}

func (b *builder) add(it Item) {
	it.Overdue = it.DueAt.Before(b.r.Now)
	if b.r.Link != nil {
		it.Link = b.r.Link(it.Entity, it.ID)
	}
	b.items = append(b.items, it)
}

func (b *builder) task(t records.Record) {
	it := Item{Kind: KindTask, Title: str(t, "title"), TaskID: str(t, "id"), DueAt: timeOf(t["dueAt"])}
	related, relID := str(t, "relatedEntity"), str(t, "relatedId")
	switch {
	case str(t, "deal") != "":
		related, relID = "deal", str(t, "deal")
	case str(t, "contact") != "":
		related, relID = "contact", str(t, "contact")
	}
	it.Entity, it.ID = related, relID
	rec := b.get(related, relID)
	if rec == nil {
		it.Entity, it.ID, it.Name = "task", it.TaskID, it.Title
	} else {
		b.describe(&it, related, rec)
	}
	b.add(it)
}

// describe fills name, phone, email and the priority fields from the record an item is about.
func (b *builder) describe(it *Item, entity string, rec records.Record) {
	switch entity {
	case "contact":
		it.Name = contactName(rec)
		it.Phone, it.Email = first(rec["phones"]), first(rec["emails"])
		it.LoyaltyStage = str(rec, "loyaltyStage")
	case "company":
		it.Name, it.Phone, it.Email = str(rec, "name"), first(rec["phones"]), first(rec["emails"])
		it.LoyaltyStage = str(rec, "loyaltyStage")
	case "deal":
		it.Name = str(rec, "name")
		it.DealValue = amount(rec["amount"])
		if c := b.get("contact", str(rec, "contact")); c != nil {
			it.Phone, it.Email, it.LoyaltyStage = first(c["phones"]), first(c["emails"]), str(c, "loyaltyStage")
		}
	case "lead":
		it.Name, it.Phone, it.Email = str(rec, "name"), str(rec, "phone"), str(rec, "email")
		it.LeadScore = num(rec["score"])
	case "complaint":
		it.Name, it.Phone, it.Email = str(rec, "subject"), str(rec, "customerPhone"), str(rec, "customerEmail")
		it.LoyaltyStage = str(rec, "customerLoyaltyStage")
	default:
		it.Name = str(rec, "name")
	}
}

func (b *builder) lead(l records.Record) {
	it := Item{Kind: KindLead, Title: "Qualify", Entity: "lead", ID: str(l, "id"), DueAt: timeOf(l["qualifyDueAt"])}
	b.describe(&it, "lead", l)
	b.add(it)
}

func (b *builder) complaint(c records.Record) {
	it := Item{Kind: KindComplaint, Title: "Resolve", Entity: "complaint", ID: str(c, "id"), DueAt: timeOf(c["resolutionDueAt"])}
	if c["acknowledgedAt"] == nil && c["responseDueAt"] != nil {
		it.Title, it.DueAt = "Answer", timeOf(c["responseDueAt"])
	}
	b.describe(&it, "complaint", c)
	if it.Phone == "" {
		if ct := b.get("contact", str(c, "contact")); ct != nil {
			it.Phone = first(ct["phones"])
		}
	}
	b.add(it)
}

func str(rec records.Record, k string) string {
	s, _ := rec[k].(string)
	return s
}

func first(v any) string {
	if l, ok := v.([]any); ok && len(l) > 0 {
		s, _ := l[0].(string)
		return s
	}
	return ""
}

func contactName(rec records.Record) string {
	if n := str(rec, "fullName"); n != "" {
		return n
	}
	return strings.TrimSpace(str(rec, "firstName") + " " + str(rec, "lastName"))
}

func amount(v any) float64 {
	if m, ok := v.(map[string]any); ok {
		return num(m["amount"])
	}
	return 0
}

func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		p, _ := time.Parse(time.RFC3339Nano, t)
		return p
	}
	return time.Time{}
}

// RecordLink is the admin UI's address of a record under base (the public URL).
func RecordLink(base, entity, id string) string {
	return strings.TrimRight(base, "/") + "/#/records/" + entity + "/" + id
}
