package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/storage"
)

// BenchmarkPrincipalResolve measures the authentication floor every request pays: resolving a session
// token to its session and user. "driver" is the two reads by _id a resolution needs, made with the bare
// driver; "uncached" resolves through the identity store with the principal cache off; "cached" is the
// store as the server runs it (a resolved principal reused for identity.DefaultPrincipalTTL).
func BenchmarkPrincipalResolve(b *testing.B) {
	ctx := context.Background()
	uncached, err := identity.NewStore(env.DB, identity.Options{Backend: storage.NewBackend(true), PrincipalTTL: -1})
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(env.AdminToken))
	sessionID := hex.EncodeToString(sum[:])
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			var sess struct {
				UserID string `bson:"userId"`
			}
			if err := env.DB.Collection("sessions").FindOne(ctx, bson.D{{Key: "_id", Value: sessionID}}).Decode(&sess); err != nil {
				b.Fatal(err)
			}
			var u bson.M
			if err := env.DB.Collection("users").FindOne(ctx, bson.D{{Key: "_id", Value: sess.UserID}}).Decode(&u); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name  string
		store *identity.Store
	}{{"uncached", uncached}, {"cached", env.Stack.Users}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := bc.store.Resolve(ctx, env.AdminToken, "127.0.0.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
