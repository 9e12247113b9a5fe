package rulesets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/schema"
)

// Enforcer applies the published validation and computed-field rule sets of an entity to every record
// written, whoever writes it (API, import, process, plugin): computed values are stored on the record and
// a failed validation refuses the write with the rule's message.
type Enforcer struct {
	store *Store

	mu   sync.Mutex
	keys map[string]enforced
}

// enforced caches which rule sets apply to an entity, so a write to an entity without any costs no read.
type enforced struct {
	at   time.Time
	keys []string
}

// NewEnforcer returns the enforcer of the store's rule sets.
func (s *Store) NewEnforcer() *Enforcer { return &Enforcer{store: s, keys: map[string]enforced{}} }

// Enforce evaluates the entity's published validation and computed rule sets on rec (the record as it
// will be stored). It returns the computed values to store and the violations, each pointing at the
// field its rule names (or at the record).
func (e *Enforcer) Enforce(ctx context.Context, entity string, rec map[string]any) (map[string]any, []schema.FieldError, error) {
	keys, err := e.applicable(ctx, entity)
	if err != nil || len(keys) == 0 {
		return nil, nil, err
	}
	now := e.store.opts.Now()
	computed := map[string]any{}
	var problems []schema.FieldError
	for _, key := range keys {
		c, _, err := e.store.Published(ctx, key, 0)
		if errors.Is(err, ErrNotPublished) || errors.Is(err, ErrArchived) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("rule set %s: %w", key, err)
		}
		in := rec
		if len(computed) > 0 {
			in = make(map[string]any, len(rec)+len(computed))
			for k, v := range rec {
				in[k] = v
			}
			for k, v := range computed {
				in[k] = v
			}
		}
		out, err := c.Evaluate(in, now)
		if err != nil {
			problems = append(problems, schema.FieldError{Pointer: "", Message: fmt.Sprintf("rule set %s could not be evaluated: %v", key, err)})
			continue
		}
		for k, v := range out.Values {
			computed[k] = v
		}
		for _, v := range out.Violations {
			ptr := ""
			if v.Field != "" {
				ptr = "/" + v.Field
			}
			problems = append(problems, schema.FieldError{Pointer: ptr, Message: v.Message})
		}
	}
	return computed, problems, nil
}

// applicable lists the keys of the entity's validation and computed rule sets, re-read after CacheTTL.
func (e *Enforcer) applicable(ctx context.Context, entity string) ([]string, error) {
	e.mu.Lock()
	c, ok := e.keys[entity]
	e.mu.Unlock()
	if ok && e.store.opts.Now().Sub(c.at) < e.store.opts.CacheTTL {
		return c.keys, nil
	}
	infos, err := e.store.List(ctx, entity, false)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, in := range infos {
		if (in.Kind == rules.KindValidation || in.Kind == rules.KindComputed) && in.LatestVersion > 0 {
			keys = append(keys, in.Key)
		}
	}
	e.mu.Lock()
	e.keys[entity] = enforced{at: e.store.opts.Now(), keys: keys}
	e.mu.Unlock()
	return keys, nil
}
