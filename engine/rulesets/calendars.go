package rulesets

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

// CalendarInfo is a stored business calendar with who changed it last and when.
type CalendarInfo struct {
	calendar.Spec
	// Revision increases with every change; send it back as If-Match to detect concurrent edits.
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy"`
}

type intervalDoc struct {
	Start string `bson:"start"`
	End   string `bson:"end"`
}

type calendarDoc struct {
	Name      string                   `bson:"_id"`
	TimeZone  string                   `bson:"timeZone"`
	Hours     map[string][]intervalDoc `bson:"hours"`
	Holidays  []string                 `bson:"holidays"`
	Revision  int64                    `bson:"revision"`
	CreatedAt time.Time                `bson:"createdAt"`
	UpdatedAt time.Time                `bson:"updatedAt"`
	UpdatedBy string                   `bson:"updatedBy"`
}

var calendarName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`)

func (d calendarDoc) info() CalendarInfo {
	spec := calendar.Spec{Name: d.Name, TimeZone: d.TimeZone, Hours: map[string][]calendar.Interval{}, Holidays: d.Holidays}
	for _, day := range sortedNames(d.Hours) {
		ivs := make([]calendar.Interval, 0, len(d.Hours[day]))
		for _, iv := range d.Hours[day] {
			ivs = append(ivs, calendar.Interval{Start: iv.Start, End: iv.End})
		}
		spec.Hours[day] = ivs
	}
	if spec.Holidays == nil {
		spec.Holidays = []string{}
	}
	return CalendarInfo{Spec: spec, Revision: d.Revision, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, UpdatedBy: d.UpdatedBy}
}

func checkCalendar(spec calendar.Spec) error {
	if !calendarName.MatchString(spec.Name) {
		return &CalendarError{Err: fmt.Errorf("name %q must start with a letter and hold only letters, digits, _ and - (at most 64)", spec.Name)}
	}
	if _, err := calendar.New(spec); err != nil {
		return &CalendarError{Err: err}
	}
	return nil
}

func hoursDoc(spec calendar.Spec) map[string][]intervalDoc {
	out := make(map[string][]intervalDoc, len(spec.Hours))
	for day, ivs := range spec.Hours {
		list := make([]intervalDoc, 0, len(ivs))
		for _, iv := range ivs {
			list = append(list, intervalDoc{Start: iv.Start, End: iv.End})
		}
		out[day] = list
	}
	return out
}

// CreateCalendar saves a new business calendar after checking it (*CalendarError when invalid).
func (s *Store) CreateCalendar(ctx context.Context, spec calendar.Spec, by string) (CalendarInfo, error) {
	if err := checkCalendar(spec); err != nil {
		return CalendarInfo{}, err
	}
	now := s.now()
	holidays := spec.Holidays
	if holidays == nil {
		holidays = []string{}
	}
	d := calendarDoc{Name: spec.Name, TimeZone: spec.TimeZone, Hours: hoursDoc(spec), Holidays: holidays,
		Revision: 1, CreatedAt: now, UpdatedAt: now, UpdatedBy: by}
	if _, err := s.db.Collection(CalendarsCollection).InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return CalendarInfo{}, fmt.Errorf("calendar %q: %w", spec.Name, ErrExists)
		}
		return CalendarInfo{}, fmt.Errorf("insert calendar %q: %w", spec.Name, err)
	}
	return d.info(), nil
}

// UpdateCalendar replaces calendar name; a positive revision must match the stored one. Rule sets
// using it see the change the next time they are compiled.
func (s *Store) UpdateCalendar(ctx context.Context, name string, spec calendar.Spec, by string, revision int64) (CalendarInfo, error) {
	if spec.Name == "" {
		spec.Name = name
	}
	if spec.Name != name {
		return CalendarInfo{}, &CalendarError{Err: fmt.Errorf("name %q differs from the calendar %q being changed", spec.Name, name)}
	}
	if err := checkCalendar(spec); err != nil {
		return CalendarInfo{}, err
	}
	filter := bson.D{{Key: "_id", Value: name}}
	if revision > 0 {
		filter = append(filter, bson.E{Key: "revision", Value: revision})
	}
	holidays := spec.Holidays
	if holidays == nil {
		holidays = []string{}
	}
	var out calendarDoc
	err := s.db.Collection(CalendarsCollection).FindOneAndUpdate(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: "timeZone", Value: spec.TimeZone}, {Key: "hours", Value: hoursDoc(spec)},
			{Key: "holidays", Value: holidays}, {Key: "updatedAt", Value: s.now()}, {Key: "updatedBy", Value: by}}},
		{Key: "$inc", Value: bson.D{{Key: "revision", Value: int64(1)}}},
	}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, gerr := s.Calendar(ctx, name); gerr != nil {
			return CalendarInfo{}, gerr
		}
		return CalendarInfo{}, fmt.Errorf("calendar %q: %w", name, ErrConflict)
	}
	if err != nil {
		return CalendarInfo{}, fmt.Errorf("update calendar %q: %w", name, err)
	}
	s.forgetAll()
	return out.info(), nil
}

// Calendar returns one calendar.
func (s *Store) Calendar(ctx context.Context, name string) (CalendarInfo, error) {
	var d calendarDoc
	err := s.db.Collection(CalendarsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return CalendarInfo{}, fmt.Errorf("calendar %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return CalendarInfo{}, fmt.Errorf("read calendar %q: %w", name, err)
	}
	return d.info(), nil
}

// Calendars lists every calendar sorted by name.
func (s *Store) Calendars(ctx context.Context) ([]CalendarInfo, error) {
	cur, err := s.db.Collection(CalendarsCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list calendars: %w", err)
	}
	var docs []calendarDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list calendars: %w", err)
	}
	out := make([]CalendarInfo, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.info())
	}
	return out, nil
}

// DeleteCalendar removes a calendar no rule set draft or published version names as its SLA calendar
// (ErrInUse otherwise, naming one of them).
func (s *Store) DeleteCalendar(ctx context.Context, name string) error {
	var h headDoc
	err := s.db.Collection(Collection).FindOne(ctx, bson.D{{Key: "calendar", Value: name}}).Decode(&h)
	if err == nil {
		return fmt.Errorf("calendar %q is used by rule set %q: %w", name, h.Key, ErrInUse)
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("check uses of calendar %q: %w", name, err)
	}
	var v versionDoc
	err = s.db.Collection(VersionsCollection).FindOne(ctx, bson.D{{Key: "calendar", Value: name}}).Decode(&v)
	if err == nil {
		return fmt.Errorf("calendar %q is used by rule set %q version %d: %w", name, v.Key, v.Version.Version, ErrInUse)
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("check uses of calendar %q: %w", name, err)
	}
	res, err := s.db.Collection(CalendarsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: name}})
	if err != nil {
		return fmt.Errorf("delete calendar %q: %w", name, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("calendar %q: %w", name, ErrNotFound)
	}
	s.forgetAll()
	return nil
}

// compiledCalendars loads every stored calendar for an expression environment. A calendar that no
// longer compiles (say, a time zone the host lost) is left out, so rule sets naming it report it as
// unknown instead of every rule set failing.
func (s *Store) compiledCalendars(ctx context.Context) (map[string]expression.Calendar, error) {
	list, err := s.Calendars(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]expression.Calendar, len(list))
	for _, ci := range list {
		c, err := calendar.New(ci.Spec)
		if err != nil {
			continue
		}
		out[ci.Name] = c
	}
	return out, nil
}

func (s *Store) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.cache)
}
