package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/schema"
)

// DedupeCollection holds one claim per dedupe key value: its _id (entity, field, value) is unique, so two
// concurrent creates of the same contact cannot both pass — the check before the insert alone could not
// guarantee that without transactions.
const DedupeCollection = "dedupe_keys"

type dedupeClaim struct {
	ID       string    `bson:"_id"`
	RecordID string    `bson:"recordId"`
	Field    string    `bson:"field"`
	At       time.Time `bson:"at"`
}

func claimID(entity, field string, value any) string {
	b, _ := json.Marshal(value)
	return entity + "|" + field + "|" + string(b)
}

// claimDedupeKeys claims every dedupe key value of a record for id. A value claimed by another live
// record that still holds it is a duplicate; a claim whose record was deleted, changed the value or was
// never stored is stale and taken over. On a duplicate the claims taken so far stay: they point to id,
// which does not hold the values, so they are stale for the next writer.
func (s *Store) claimDedupeKeys(ctx context.Context, v *schema.Validator, norm map[string]any, id string) error {
	entity := v.Entity().Name
	coll := s.db.Collection(DedupeCollection)
	for _, k := range v.DedupeKeys(norm) {
		for _, val := range k.Values {
			c := dedupeClaim{ID: claimID(entity, k.Field, val), RecordID: id, Field: k.Field, At: s.opts.Now().UTC()}
			for attempt := 0; ; attempt++ {
				_, err := coll.InsertOne(ctx, c)
				if err == nil {
					break
				}
				if !mongo.IsDuplicateKeyError(err) {
					return fmt.Errorf("claim dedupe key %s: %w", k.Field, err)
				}
				var prev dedupeClaim
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&prev); err != nil {
					if errors.Is(err, mongo.ErrNoDocuments) && attempt < 3 {
						continue
					}
					return fmt.Errorf("read dedupe key %s: %w", k.Field, err)
				}
				if prev.RecordID == id {
					break
				}
				holder, err := s.get(ctx, entity, prev.RecordID, true)
				switch {
				case errors.Is(err, ErrNotFound):
					// Claimed by a create still in flight, unless the claim is old enough to be an orphan.
					if s.opts.Now().Sub(prev.At) < staleClaim {
						return &DuplicateError{ExistingID: prev.RecordID, Field: k.Field}
					}
				case err != nil:
					return err
				case holder[schema.SysDeletedAt] == nil && holdsValue(v, holder, k.Field, val):
					return &DuplicateError{ExistingID: prev.RecordID, Field: k.Field}
				}
				res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "recordId", Value: prev.RecordID}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "recordId", Value: id}, {Key: "at", Value: c.At}}}})
				if err != nil {
					return fmt.Errorf("take over dedupe key %s: %w", k.Field, err)
				}
				if res.MatchedCount == 1 {
					break
				}
				if attempt >= 3 {
					return fmt.Errorf("dedupe key %s: too many concurrent writers", k.Field)
				}
			}
		}
	}
	return nil
}

// holdsValue reports whether a stored record still has val among its dedupe key values for field.
func holdsValue(v *schema.Validator, rec Record, field string, val any) bool {
	for _, k := range v.DedupeKeys(userFields(rec)) {
		if k.Field != field {
			continue
		}
		for _, have := range k.Values {
			if claimID("", field, have) == claimID("", field, val) {
				return true
			}
		}
	}
	return false
}
