package process

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/storage"
)

// shared holds what the instances on one worker can use together instead of each keeping its own
// copy: decoded process models, expression environments and compiled programs. A worker keeps up to
// its cache size of waiting instances in memory (a follow-up cadence per contact waits for months), and
// per instance the model and its compiled expressions were most of the ~130 KB each held (issue 16's
// heap profile). Everything here is immutable once made, and making it is deterministic: a model is
// found by the SHA-256 of its JSON, a program by its environment's variable types and its source, so an
// instance gets exactly what it would have built itself and sharing never changes what it does,
// replay included. The caches only bound memory (entries unused for an hour, or beyond their size,
// are dropped and rebuilt when needed).
type shared struct {
	models *storage.TTLCache[[sha256.Size]byte, *bpmn.Model]
	envs   *storage.TTLCache[string, *expression.Env]
	progs  *storage.TTLCache[progKey, *expression.Program]
}

// progKey names a compiled program: the fingerprint of its environment and its source.
type progKey struct{ env, src string }

// Bounds of the shared caches: a worker runs a few hundred definitions' versions at most, each with a
// few dozen expressions in one or a few environments.
const (
	sharedModels   = 256
	sharedEnvs     = 1024
	sharedPrograms = 16384
	sharedTTL      = time.Hour
)

func newShared() *shared {
	return &shared{
		models: storage.NewTTLCache[[sha256.Size]byte, *bpmn.Model](sharedTTL, sharedModels),
		envs:   storage.NewTTLCache[string, *expression.Env](sharedTTL, sharedEnvs),
		progs:  storage.NewTTLCache[progKey, *expression.Program](sharedTTL, sharedPrograms),
	}
}

// run is the interpreter workflow with these shared parts, the function a worker registers.
func (s *shared) run(ctx workflow.Context, in Input) (Result, error) { return run(ctx, in, s) }

// decodeModel decodes a model from its JSON, or returns the one decoded before from the same bytes.
func (s *shared) decodeModel(raw []byte) (*bpmn.Model, error) {
	var sum [sha256.Size]byte
	if s != nil {
		sum = sha256.Sum256(raw)
		if m, ok := s.models.Get(sum); ok {
			return m, nil
		}
	}
	m := new(bpmn.Model)
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("decode the process model: %w", err)
	}
	if s != nil {
		s.models.Set(sum, m)
	}
	return m, nil
}

// model returns the shared copy of a model an instance received decoded (a start or a continue-as-new
// carrying its model), or m itself when none is shared yet (it becomes the shared one).
func (s *shared) model(m *bpmn.Model) *bpmn.Model {
	if s == nil || m == nil {
		return m
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return m
	}
	sum := sha256.Sum256(raw)
	if c, ok := s.models.Get(sum); ok {
		return c
	}
	s.models.Set(sum, m)
	return m
}

// envFingerprint names an environment of scalar variable types: its sorted names with their kinds.
func envFingerprint(types map[string]*expression.Type) string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s:%s;", n, types[n])
	}
	return b.String()
}

// env returns the environment of these variable types, shared when s is set and fp (its fingerprint)
// names it; with options (business calendars, part of the instance's state) it is the instance's own.
func (s *shared) env(types map[string]*expression.Type, opts []expression.EnvOption) (*expression.Env, string) {
	if s == nil || len(opts) > 0 {
		return expression.NewEnv(types, opts...), ""
	}
	fp := envFingerprint(types)
	if e, ok := s.envs.Get(fp); ok {
		return e, fp
	}
	e := expression.NewEnv(types)
	s.envs.Set(fp, e)
	return e, fp
}

// compile compiles src in env, reusing the program compiled before in the environment fp names.
func (s *shared) compile(src string, env *expression.Env, fp string) (*expression.Program, error) {
	if s == nil || fp == "" {
		return expression.Compile(src, env)
	}
	k := progKey{env: fp, src: src}
	if p, ok := s.progs.Get(k); ok {
		return p, nil
	}
	p, err := expression.Compile(src, env)
	if err != nil {
		return nil, err
	}
	s.progs.Set(k, p)
	return p, nil
}
