package inbox

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Viewer is whose inbox is read: the person's ids (user ID and e-mail, as processes name assignees and
// candidate users) and groups (teams and roles, as processes name candidate groups).
type Viewer struct {
	IDs    []string
	Groups []string
}

// Views of an inbox.
const (
	// ViewAll is the default: tasks assigned to the person, and unassigned tasks offered to them or to
	// one of their groups.
	ViewAll = "all"
	// ViewMine is the tasks assigned to the person.
	ViewMine = "mine"
	// ViewClaimable is the unassigned tasks offered to the person or one of their groups.
	ViewClaimable = "claimable"
)

// Sorts of an inbox page.
const (
	SortPriority = "priority" // highest priority first, then earliest due date
	SortDue      = "due"      // earliest due date first (tasks without one last), then priority
	SortDueDesc  = "-due"
	SortCreated  = "created" // oldest first
	SortNewest   = "-created"
)

// Sorts lists the accepted sorts.
func Sorts() []string { return []string{SortPriority, SortDue, SortDueDesc, SortCreated, SortNewest} }

// DefaultLimit and MaxLimit bound a page.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Query selects, orders and pages a person's inbox.
type Query struct {
	View       string
	Group      string
	ProcessKey string
	DueBefore  time.Time
	Entity     string
	RecordID   string
	Sort       string
	Limit      int
	Cursor     string
	// Now decides what is overdue; zero is the current time.
	Now time.Time
}

// Page is one page of an inbox with the counts of the whole view.
type Page struct {
	Items  []PageItem `json:"items"`
	Next   string     `json:"next,omitempty" doc:"Cursor of the following page; empty on the last page."`
	Counts Counts     `json:"counts"`
}

// PageItem is an inbox item with the task's form.
type PageItem struct {
	Item
	Fields []bpmn.FormField `json:"fields,omitempty" doc:"The form: what completing the task takes."`
}

// Counts are the sizes of the person's inbox: every task matching the filters (Total), and of the whole
// inbox those assigned to them, those they may claim and those overdue.
type Counts struct {
	Total     int `json:"total"`
	Mine      int `json:"mine"`
	Claimable int `json:"claimable"`
	Overdue   int `json:"overdue"`
}

// ParamError is a query parameter the inbox refuses.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

// Form is a task's form: its key and fields.
type Form struct {
	FormKey string
	Fields  []bpmn.FormField
}

// FormSource gives the form of a task from its process version.
type FormSource interface {
	Form(ctx context.Context, key string, version int, element string) (Form, error)
}

// Models loads compiled process versions; definitions.Store implements it.
type Models interface {
	Load(ctx context.Context, key string, version int) (*bpmn.Model, int, error)
}

// ModelForms reads forms from the published versions (compiled models are cached by the definitions
// store, versions being immutable).
type ModelForms struct{ Models Models }

// Form returns the form of element in version of process key.
func (m ModelForms) Form(ctx context.Context, key string, version int, element string) (Form, error) {
	md, _, err := m.Models.Load(ctx, key, version)
	if err != nil {
		return Form{}, err
	}
	for i := range md.Nodes {
		if n := &md.Nodes[i]; n.ID == element && n.User != nil {
			return Form{FormKey: n.User.FormKey, Fields: n.User.Fields}, nil
		}
	}
	return Form{}, nil
}

// Read returns a page of the viewer's inbox: the buckets of their ids and groups and the crowd bucket,
// each read by _id, merged, filtered, counted, sorted and cut at the cursor.
func (s *Store) Read(ctx context.Context, v Viewer, q Query) (Page, error) {
	if q.View == "" {
		q.View = ViewAll
	}
	if !slices.Contains([]string{ViewAll, ViewMine, ViewClaimable}, q.View) {
		return Page{}, &ParamError{Param: "view", Msg: "want all, mine or claimable"}
	}
	if q.Sort == "" {
		q.Sort = SortPriority
	}
	if !slices.Contains(Sorts(), q.Sort) {
		return Page{}, &ParamError{Param: "sort", Msg: "want one of " + strings.Join(Sorts(), ", ")}
	}
	if q.Group != "" && !slices.Contains(v.Groups, q.Group) {
		return Page{}, &ParamError{Param: "group", Msg: "you are not in group " + q.Group}
	}
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	var after *Item
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, q.Sort)
		if err != nil {
			return Page{}, &ParamError{Param: "cursor", Msg: err.Error()}
		}
		after = &c
	}
	all, err := s.collect(ctx, v)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: []PageItem{}}
	var match []Item
	for _, it := range all {
		mine := slices.Contains(v.IDs, it.Assignee)
		claimable := it.Assignee == "" && offered(it, v)
		if !mine && !claimable {
			continue
		}
		if mine {
			page.Counts.Mine++
		} else {
			page.Counts.Claimable++
		}
		if !it.DueDate.IsZero() && it.DueDate.Before(q.Now) {
			page.Counts.Overdue++
		}
		switch {
		case q.View == ViewMine && !mine, q.View == ViewClaimable && !claimable,
			q.Group != "" && !slices.Contains(it.CandidateGroups, q.Group),
			q.ProcessKey != "" && it.ProcessKey != q.ProcessKey,
			!q.DueBefore.IsZero() && (it.DueDate.IsZero() || !it.DueDate.Before(q.DueBefore)),
			q.Entity != "" && it.Entity != q.Entity,
			q.RecordID != "" && it.RecordID != q.RecordID:
			continue
		}
		match = append(match, it)
	}
	page.Counts.Total = len(match)
	less := comparer(q.Sort)
	slices.SortFunc(match, less)
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(match, *after, less)
		if start < len(match) && match[start].ID == after.ID {
			start++
		}
	}
	end := min(start+q.Limit, len(match))
	for _, it := range match[start:end] {
		pi := PageItem{Item: it}
		if s.forms != nil {
			if f, err := s.forms.Form(ctx, it.ProcessKey, it.Version, it.Element); err == nil {
				pi.Fields = f.Fields
				if pi.FormKey == "" {
					pi.FormKey = f.FormKey
				}
			}
		}
		page.Items = append(page.Items, pi)
	}
	if end < len(match) {
		page.Next = encodeCursor(match[end-1], q.Sort)
	}
	return page, nil
}

// collect reads the viewer's buckets and merges their items (a task is in several).
func (s *Store) collect(ctx context.Context, v Viewer) ([]Item, error) {
	var keys []string
	for _, id := range v.IDs {
		if id != "" {
			keys = append(keys, UserPrefix+id)
		}
	}
	for _, g := range v.Groups {
		if g != "" {
			keys = append(keys, GroupPrefix+g)
		}
	}
	keys = append(keys, CrowdKey)
	seenIDs := map[string]bool{}
	var out []Item
	// The buckets' tries a level at a time: a split node sends the read on to its two children.
	type node struct{ key, path string }
	level := map[string]node{}
	for _, k := range keys {
		level[nodeID(k, "")] = node{k, ""}
	}
	for len(level) > 0 {
		ids := make([]string, 0, len(level))
		for id := range level {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		next := map[string]node{}
		err := s.backend.FindIDs(ctx, s.buckets, ids, nil, func(raw bson.Raw) error {
			var doc struct {
				ID string `bson:"_id"`
				V  bucket `bson:"v"`
			}
			if err := bson.Unmarshal(raw, &doc); err != nil {
				return fmt.Errorf("inbox: decode bucket: %w", err)
			}
			if doc.V.Split {
				n := level[doc.ID]
				for _, bit := range []string{"0", "1"} {
					next[nodeID(n.key, n.path+bit)] = node{n.key, n.path + bit}
				}
				return nil
			}
			for _, it := range doc.V.Items {
				if !seenIDs[it.ID] {
					seenIDs[it.ID] = true
					out = append(out, it)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("inbox: read buckets: %w", err)
		}
		level = next
	}
	return out, nil
}

// offered reports whether a task is offered to the viewer as a candidate user or to one of their
// groups.
func offered(it Item, v Viewer) bool {
	return slices.ContainsFunc(it.CandidateUsers, func(u string) bool { return slices.Contains(v.IDs, u) }) ||
		slices.ContainsFunc(it.CandidateGroups, func(g string) bool { return slices.Contains(v.Groups, g) })
}

// comparer orders items for a sort; the item ID breaks ties, so the order is total and a cursor
// names one position.
func comparer(sort string) func(a, b Item) int {
	due := func(a, b Item) int { // no due date last
		switch {
		case a.DueDate.IsZero() && b.DueDate.IsZero():
			return 0
		case a.DueDate.IsZero():
			return 1
		case b.DueDate.IsZero():
			return -1
		}
		return a.DueDate.Compare(b.DueDate)
	}
	prio := func(a, b Item) int { return cmp.Compare(b.Priority, a.Priority) }
	return func(a, b Item) int {
		var c int
		switch sort {
		case SortPriority:
			c = cmp.Or(prio(a, b), due(a, b))
		case SortDue:
			c = cmp.Or(due(a, b), prio(a, b))
		case SortDueDesc:
			c = cmp.Or(-due(a, b), prio(a, b))
		case SortCreated:
			c = a.Created.Compare(b.Created)
		case SortNewest:
			c = b.Created.Compare(a.Created)
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	}
}

// cursor is the position after which the next page starts: the sort keys of the last item sent.
type cursor struct {
	Sort     string    `json:"s"`
	ID       string    `json:"i"`
	Due      time.Time `json:"d,omitzero"`
	Priority int       `json:"p,omitempty"`
	Created  time.Time `json:"c,omitzero"`
}

func encodeCursor(it Item, sort string) string {
	raw, _ := json.Marshal(cursor{Sort: sort, ID: it.ID, Due: it.DueDate, Priority: it.Priority, Created: it.Created})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(s, sort string) (Item, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.ID == "" {
		return Item{}, errors.New("not a cursor of this inbox")
	}
	if c.Sort != sort {
		return Item{}, fmt.Errorf("the cursor was made for sort %q", c.Sort)
	}
	return Item{ID: c.ID, DueDate: c.Due, Priority: c.Priority, Created: c.Created}, nil
}
