package schema

import (
	"fmt"
	"sync"
)

// Registry caches one Validator per entity name and version, so schemas are
// compiled once per version rather than per request. The caller owns the
// registry (for example the API server holds one); there is no global.
type Registry struct {
	opts []ValidatorOption
	mu   sync.RWMutex
	m    map[registryKey]*Validator
}

type registryKey struct {
	name    string
	version int
}

// NewRegistry returns an empty registry whose validators use opts.
func NewRegistry(opts ...ValidatorOption) *Registry {
	return &Registry{opts: opts, m: map[registryKey]*Validator{}}
}

// Validator returns the cached validator of e's name and version, compiling
// it on first use. A saved version is immutable, so name and version
// identify the definition; an unsaved draft (version 0) is compiled every
// time and never cached.
func (r *Registry) Validator(e Entity) (*Validator, error) {
	if e.Version <= 0 {
		return NewValidator(e, r.opts...)
	}
	k := registryKey{e.Name, e.Version}
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := NewValidator(e, r.opts...)
	if err != nil {
		return nil, fmt.Errorf("compile %s v%d: %w", e.Name, e.Version, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cached, ok := r.m[k]; ok {
		return cached, nil
	}
	r.m[k] = v
	return v, nil
}

// Forget drops every cached version of an entity (after it is deleted).
func (r *Registry) Forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if k.name == name {
			delete(r.m, k)
		}
	}
}
