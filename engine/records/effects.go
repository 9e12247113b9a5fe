package records

import (
	"context"
	"slices"
	"sync"
)

// Effects is what the change hook (Options.OnChange) caused for the writes made with one context, so
// the writer can name it in its answer: the API links a record's create or patch response to the
// process instances its triggers started. The hook's signature stays an error; the hook reports into
// the collector the writer put in the context (EffectsOf), and a write made without one collects
// nothing. A Store method that writes nothing (an idempotent replay of a create) calls no hook, so its
// collector stays empty. Safe for concurrent use.
type Effects struct {
	mu      sync.Mutex
	started []string
}

type effectsKey struct{}

// WithEffects returns a context whose writes collect their effects into the returned Effects.
func WithEffects(ctx context.Context) (context.Context, *Effects) {
	e := &Effects{}
	return context.WithValue(ctx, effectsKey{}, e), e
}

// EffectsOf is the collector of ctx, nil when the writer asked for none (its methods accept nil).
func EffectsOf(ctx context.Context) *Effects {
	e, _ := ctx.Value(effectsKey{}).(*Effects)
	return e
}

// AddStarted records the IDs of process instances a change starts (each once, in order).
func (e *Effects) AddStarted(ids ...string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if id != "" && !slices.Contains(e.started, id) {
			e.started = append(e.started, id)
		}
	}
}

// Started is the IDs of the process instances the writes started, in the order they were reported.
func (e *Effects) Started() []string {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.started)
}
