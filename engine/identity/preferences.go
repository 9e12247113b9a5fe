package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// PreferencesCollection keeps what people set up for themselves in the web app (a list's columns, its
// saved views), so it follows them to another browser or computer. One document per user and key,
// always reached by its _id: reads and writes cost the same however many users and keys there are.
const PreferencesCollection = "user_preferences"

// MaxPreferenceBytes bounds one stored preference (its JSON); saved views are far smaller.
const MaxPreferenceBytes = 64 << 10

// ErrInvalidPreferenceKey is the ErrInvalid of a key that cannot name a preference.
var ErrInvalidPreferenceKey = fmt.Errorf("invalid preference key: %w", ErrInvalid)

// preferenceKey is what a preference key may look like: "views.lead", "columns.contact".
var preferenceKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

type preference struct {
	ID     string `bson:"_id"`
	UserID string `bson:"userId"`
	Key    string `bson:"key"`
	// Value is the JSON the client stored, kept as text so it comes back exactly as it was sent.
	Value string `bson:"value"`
}

// CheckPreference says why a key or value cannot be stored, wrapping ErrInvalid; nil when it can.
func CheckPreference(key string, value json.RawMessage) error {
	if !preferenceKey.MatchString(key) {
		return fmt.Errorf("preference key %q: letters, digits, '.', '_' and '-', at most 100: %w", key, ErrInvalidPreferenceKey)
	}
	if len(value) > MaxPreferenceBytes {
		return fmt.Errorf("preference %s is %d bytes, more than %d: %w", key, len(value), MaxPreferenceBytes, ErrInvalid)
	}
	if !json.Valid(value) {
		return fmt.Errorf("preference %s is not JSON: %w", key, ErrInvalid)
	}
	return nil
}

func preferenceID(userID, key string) string { return userID + "/" + key }

// Preference returns a user's stored preference, or ErrNotFound.
func (s *Store) Preference(ctx context.Context, userID, key string) (json.RawMessage, error) {
	if err := CheckPreference(key, json.RawMessage("null")); err != nil {
		return nil, err
	}
	var p preference
	err := s.prefs.FindOne(ctx, bson.D{{Key: "_id", Value: preferenceID(userID, key)}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("preference %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read preference %s: %w", key, err)
	}
	return json.RawMessage(p.Value), nil
}

// SetPreference stores (or replaces) a user's preference.
func (s *Store) SetPreference(ctx context.Context, userID, key string, value json.RawMessage) error {
	if err := CheckPreference(key, value); err != nil {
		return err
	}
	id := preferenceID(userID, key)
	_, err := s.prefs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}},
		preference{ID: id, UserID: userID, Key: key, Value: string(value)}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("identity: store preference %s: %w", key, err)
	}
	return nil
}

// DeletePreference forgets a user's preference; forgetting one that is not stored is not an error.
func (s *Store) DeletePreference(ctx context.Context, userID, key string) error {
	if err := CheckPreference(key, json.RawMessage("null")); err != nil {
		return err
	}
	if _, err := s.prefs.DeleteOne(ctx, bson.D{{Key: "_id", Value: preferenceID(userID, key)}}); err != nil {
		return fmt.Errorf("identity: delete preference %s: %w", key, err)
	}
	return nil
}
