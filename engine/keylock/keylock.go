// Package keylock holds a mutex per key, for code that must serialise work on one document or one name
// without making work on other keys wait: the embedded store's conditional writes (per document) and the
// plugin host's configure (per instance name).
package keylock

import "sync"

// Locks is a mutex per key, held only while in use, so locks on distinct keys never wait for each other
// (as striped locks would) and one caller may hold several. The zero value is ready to use.
type Locks struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int
}

// Lock takes key's lock and returns its release; a key's lock is forgotten when no caller holds or
// waits for it.
func (k *Locks) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*entry{}
	}
	l := k.m[key]
	if l == nil {
		l = &entry{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
