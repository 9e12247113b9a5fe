// Package connections keeps the configured ERP connections (instances of connector plugins) in MongoDB, so every Rapport server
// and worker runs the same instances. Secrets inside a configuration arrive here already sealed by the
// plugin host's Sealer; this store never sees them in clear.
package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/plugins/host"
)

// Store implements host.Store on a MongoDB collection.
type Store struct {
	coll *mongo.Collection
	now  func() time.Time
}

var _ host.Store = (*Store)(nil)

// doc is one instance as stored; the configuration is kept as a JSON string so that any shape of
// plugin configuration round-trips exactly.
type doc struct {
	Name      string    `bson:"_id"`
	Plugin    string    `bson:"plugin"`
	Config    string    `bson:"config"`
	UpdatedAt time.Time `bson:"updatedAt"`
	UpdatedBy string    `bson:"updatedBy,omitempty"`
}

// NewStore uses the "connectors" collection of db.
func NewStore(db *mongo.Database) *Store {
	return &Store{coll: db.Collection("connectors"), now: time.Now}
}

// List returns every stored instance sorted by name.
func (s *Store) List(ctx context.Context) ([]host.StoredInstance, error) {
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("connectors: list: %w", err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("connectors: decode: %w", err)
	}
	out := make([]host.StoredInstance, 0, len(docs))
	for _, d := range docs {
		out = append(out, host.StoredInstance{Name: d.Name, Plugin: d.Plugin, Config: json.RawMessage(d.Config)})
	}
	return out, nil
}

// Get returns one stored instance; found is false when there is none.
func (s *Store) Get(ctx context.Context, name string) (host.StoredInstance, bool, error) {
	var d doc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return host.StoredInstance{}, false, nil
	}
	if err != nil {
		return host.StoredInstance{}, false, fmt.Errorf("connectors: get %q: %w", name, err)
	}
	return host.StoredInstance{Name: d.Name, Plugin: d.Plugin, Config: json.RawMessage(d.Config)}, true, nil
}

// Put creates or replaces an instance in one atomic document write.
func (s *Store) Put(ctx context.Context, in host.StoredInstance) error {
	d := doc{Name: in.Name, Plugin: in.Plugin, Config: string(in.Config), UpdatedAt: s.now().UTC()}
	if _, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: in.Name}}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("connectors: put %q: %w", in.Name, err)
	}
	return nil
}

// Delete removes an instance; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}}); err != nil {
		return fmt.Errorf("connectors: delete %q: %w", name, err)
	}
	return nil
}

// Resolver gives the configured instance of a connector by name, installing it into the plugin host from
// the store the first time this process needs it (another server may have configured it).
type Resolver struct {
	Host   *host.Host
	Store  *Store
	Sealer *host.Sealer
}

// ErrUnknown means no connector instance has the name.
var ErrUnknown = errors.New("no such connector")

// Instance returns the named instance.
func (r Resolver) Instance(ctx context.Context, name string) (*host.Instance, error) {
	if r.Host == nil {
		return nil, errors.New("connectors: no plugins directory is configured")
	}
	if in, err := r.Host.Instance(name); err == nil {
		return in, nil
	}
	st, found, err := r.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	paths, err := r.Host.SecretPaths(ctx, st.Plugin)
	if err != nil {
		return nil, fmt.Errorf("connectors: plugin %s of %s: %w", st.Plugin, name, err)
	}
	cfg, err := r.Sealer.OpenConfig(name, st.Config, paths)
	if err != nil {
		return nil, fmt.Errorf("connectors: open secrets of %s: %w", name, err)
	}
	in, err := r.Host.Configure(ctx, name, st.Plugin, cfg)
	if err != nil {
		return nil, fmt.Errorf("connectors: configure %s: %w", name, err)
	}
	return in, nil
}
