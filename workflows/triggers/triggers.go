// Package triggers starts process instances when records change: a published process whose start event
// is a record trigger on the entity (created or updated) and whose condition holds gets a new instance,
// with the record as its `record` variable.
package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Finder returns the triggers that fire for a change; definitions.Store implements it.
type Finder interface {
	TriggersFor(ctx context.Context, entity, on string) ([]definitions.Trigger, error)
}

// Starter starts the instances record changes trigger.
type Starter struct {
	temporal  client.Client
	triggers  Finder
	taskQueue string
	log       *slog.Logger
	env       *expression.Env

	mu       sync.Mutex
	compiled map[string]*expression.Program
	cached   map[string]cachedTriggers
	now      func() time.Time
}

// cacheTTL bounds how long a server keeps using the trigger list it read: record writes do not pay a
// database read each, and a newly published process starts triggering within this time.
const cacheTTL = 2 * time.Second

type cachedTriggers struct {
	at       time.Time
	triggers []definitions.Trigger
}

// New returns a Starter that starts instances on taskQueue.
func New(c client.Client, triggers Finder, taskQueue string, log *slog.Logger) *Starter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Starter{temporal: c, triggers: triggers, taskQueue: taskQueue, log: log,
		env:      expression.NewEnv(map[string]*expression.Type{"record": expression.Scalar(expression.KindAny)}),
		compiled: map[string]*expression.Program{}, cached: map[string]cachedTriggers{}, now: time.Now}
}

// RecordChanged starts every process the change triggers. The instance ID is derived from the process
// version, the record and its version, so calling it again for the same change starts nothing new.
// It returns the IDs of the instances started (or already running for this change).
func (s *Starter) RecordChanged(ctx context.Context, entity, on string, rec map[string]any) ([]string, error) {
	ts, err := s.triggersFor(ctx, entity, on)
	if err != nil {
		return nil, err
	}
	recordID, _ := rec["id"].(string)
	var started []string
	var errs []error
	for _, t := range ts {
		if t.Condition != "" {
			ok, err := s.holds(t.Condition, rec)
			if err != nil {
				errs = append(errs, fmt.Errorf("process %s v%d, start %s: condition: %w", t.Key, t.Version, t.Element, err))
				continue
			}
			if !ok {
				continue
			}
		}
		id := fmt.Sprintf("%s-v%d-%s-%s-%s-r%v", t.Key, t.Version, t.Element, on, recordID, rec["version"])
		in := process.Input{Ref: process.Ref{Key: t.Key, Version: t.Version}, Variables: map[string]any{"record": rec},
			Entity: entity, RecordID: recordID, StartElement: t.Element}
		_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: s.taskQueue, TypedSearchAttributes: process.SearchAttributes(in),
			WorkflowExecutionErrorWhenAlreadyStarted: true,
		}, process.WorkflowName, in)
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &already) {
			errs = append(errs, fmt.Errorf("start %s: %w", id, err))
			continue
		}
		s.log.Info("record started a process", "process", t.Key, "version", t.Version, "entity", entity, "record", recordID, "instance", id)
		started = append(started, id)
	}
	return started, errors.Join(errs...)
}

func (s *Starter) triggersFor(ctx context.Context, entity, on string) ([]definitions.Trigger, error) {
	key := entity + "\x00" + on
	s.mu.Lock()
	c, ok := s.cached[key]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < cacheTTL {
		return c.triggers, nil
	}
	ts, err := s.triggers.TriggersFor(ctx, entity, on)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cached[key] = cachedTriggers{at: s.now(), triggers: ts}
	s.mu.Unlock()
	return ts, nil
}

// holds evaluates a trigger condition (FEEL's leading "=" allowed) against the record.
func (s *Starter) holds(src string, rec map[string]any) (bool, error) {
	if len(src) > 0 && src[0] == '=' {
		src = src[1:]
	}
	s.mu.Lock()
	p, ok := s.compiled[src]
	if !ok {
		var err error
		if p, err = expression.Compile(src, s.env, expression.Expect(expression.KindBool)); err != nil {
			s.mu.Unlock()
			return false, err
		}
		s.compiled[src] = p
	}
	s.mu.Unlock()
	out, err := p.Run(map[string]any{"record": rec}, time.Now()) // ok: activity — a trigger is evaluated outside workflow code
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}
