// Package triggers turns record changes into process work, durably: a published process whose start
// event is a record trigger on the entity (created or updated) and whose condition holds gets a new
// instance, with the record as its `record` variable; and running instances bound to the record, or
// to a record it references, receive the change as the message record.<entity>.<created|updated|deleted>
// when some published process catches it.
//
// A record write commits before anything reaches Temporal, and FerretDB has no transactions, so the
// work a change causes is first written to an outbox (one document per change, keyed by entity,
// record and version) and then delivered by a background loop with retries and backoff. Temporal being
// down delays starts and messages; it loses none. Starts are exactly-once because their instance IDs
// are derived from the change (process.CauseRecord); messages are at-least-once.
package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Indexer reads the trigger index; definitions.Store implements it.
type Indexer interface {
	Index(ctx context.Context) (definitions.Index, error)
}

// Refs returns the record references of a record of entity that should also hear of its changes: the
// IDs in its reference fields to other entities (not users or teams).
type Refs func(ctx context.Context, entity string, rec map[string]any) ([]string, error)

// Work is what one record change causes: instances to start and messages to deliver.
type Work struct {
	Starts   []process.StartRequest `json:"starts,omitempty"`
	Messages []messages.Message     `json:"messages,omitempty"`
}

// InstanceIDs are the IDs of the instances the work starts, derived from each start's cause
// (process.InstanceID), as Temporal will know them.
func (w Work) InstanceIDs() []string {
	out := make([]string, 0, len(w.Starts))
	for _, s := range w.Starts {
		out = append(out, process.InstanceID(s.Ref.Key, s.Cause, s.Once))
	}
	return out
}

// Matcher decides what a record change causes, from the trigger index (cached for cacheTTL).
type Matcher struct {
	index Indexer
	refs  Refs
	env   *expression.Env
	now   func() time.Time

	mu       sync.Mutex
	compiled map[string]*expression.Program
	cached   definitions.Index
	cachedAt time.Time
}

// cacheTTL bounds how long a server keeps using the trigger index it read: record writes do not pay a
// database read each, and a newly published process starts triggering within this time.
const cacheTTL = 2 * time.Second

// NewMatcher returns a Matcher on the index; refs may be nil (no references hear of changes).
func NewMatcher(index Indexer, refs Refs) *Matcher {
	return &Matcher{index: index, refs: refs, now: time.Now,
		env:      expression.NewEnv(map[string]*expression.Type{"record": expression.Scalar(expression.KindAny)}),
		compiled: map[string]*expression.Program{}}
}

// Match returns the work a change of rec (an entity record, on = "created" or "updated") causes. A
// trigger whose condition cannot be evaluated is skipped and reported in the error; the rest is
// still returned. changed names the fields an update changed (nil: unknown, as for created): an update
// that every catching process filters with rapport:whenChanged is delivered only when one of their
// fields is among them, so a phone edit does not wake a follow-up cadence that reads only the stage.
func (m *Matcher) Match(ctx context.Context, entity, on string, rec map[string]any, changed []string) (Work, error) {
	idx, err := m.indexNow(ctx)
	if err != nil {
		return Work{}, err
	}
	recordID, _ := rec["id"].(string)
	var w Work
	var condErr error
	for _, t := range idx.Triggers {
		if t.Entity != entity || t.On != on {
			continue
		}
		if t.Condition != "" {
			ok, err := m.holds(t.Condition, rec)
			if err != nil {
				condErr = fmt.Errorf("process %s v%d, start %s: condition: %w", t.Key, t.Version, t.Element, err)
				continue
			}
			if !ok {
				continue
			}
		}
		w.Starts = append(w.Starts, process.StartRequest{
			Ref: process.Ref{Key: t.Key, Version: t.Version}, Cause: process.CauseRecord,
			Once:         fmt.Sprintf("%s:%s:%s:%s:v%v", t.Element, entity, recordID, on, rec["version"]),
			StartElement: t.Element, Entity: entity, RecordID: recordID, BusinessKey: recordID,
			Variables: map[string]any{"record": rec},
		})
	}
	name := bpmn.RecordEvent(entity, on)
	if idx.Delivers(name, changed) {
		keys := []string{recordID}
		if m.refs != nil {
			refs, err := m.refs(ctx, entity, rec)
			if err != nil {
				return w, err
			}
			keys = append(keys, refs...)
		}
		for _, k := range keys {
			if k != "" {
				w.Messages = append(w.Messages, messages.Message{Name: name, CorrelationKey: k, Variables: map[string]any{entity: rec}})
			}
		}
	}
	return w, condErr
}

func (m *Matcher) indexNow(ctx context.Context) (definitions.Index, error) {
	m.mu.Lock()
	idx, at := m.cached, m.cachedAt
	m.mu.Unlock()
	if !at.IsZero() && m.now().Sub(at) < cacheTTL {
		return idx, nil
	}
	idx, err := m.index.Index(ctx)
	if err != nil {
		return definitions.Index{}, err
	}
	m.mu.Lock()
	m.cached, m.cachedAt = idx, m.now()
	m.mu.Unlock()
	return idx, nil
}

// holds evaluates a trigger condition (FEEL's leading "=" allowed) against the record.
func (m *Matcher) holds(src string, rec map[string]any) (bool, error) {
	if len(src) > 0 && src[0] == '=' {
		src = src[1:]
	}
	m.mu.Lock()
	p, ok := m.compiled[src]
	if !ok {
		var err error
		if p, err = expression.Compile(src, m.env, expression.Expect(expression.KindBool)); err != nil {
			m.mu.Unlock()
			return false, err
		}
		m.compiled[src] = p
	}
	m.mu.Unlock()
	out, err := p.Run(map[string]any{"record": rec}, m.now())
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// refsOf lists the values of the named reference fields of rec.
func refsOf(rec map[string]any, fields []string) []string {
	var out []string
	for _, f := range fields {
		if v, ok := rec[f].(string); ok && v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// RefsFrom adapts a function giving an entity's reference fields to other entities into Refs.
func RefsFrom(fields func(ctx context.Context, entity string) ([]string, error)) Refs {
	return func(ctx context.Context, entity string, rec map[string]any) ([]string, error) {
		fs, err := fields(ctx, entity)
		if err != nil {
			return nil, err
		}
		return refsOf(rec, fs), nil
	}
}

// discardLogger is the logger of a Dispatcher built without one.
func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
