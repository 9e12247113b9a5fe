package records

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// sealer makes list cursors opaque and unforgeable: a cursor is the sort values of a page's last
// record, sealed with AES-256-GCM (authenticated encryption) under a key derived by HMAC-SHA256 from the
// server's secret, bound to the entity and the sort it was made for. A client can neither read the
// values (they may be of fields it may not see) nor make up its own (they become filter values).
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 16 {
		return nil, errors.New("the cursor key must be at least 16 bytes")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("rapport/records/cursor/v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cursor key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts and authenticates payload for the context ad (entity and sort).
func (c *sealer) seal(ad string, payload []byte) string {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(payload)+c.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nonce, nonce, payload, []byte(ad)))
}

// open returns the payload of a cursor sealed for ad, or false for anything else: malformed, forged,
// sealed by another key, or made for another entity or sort.
func (c *sealer) open(ad, token string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead() {
		return nil, false
	}
	n := c.aead.NonceSize()
	out, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(ad))
	return out, err == nil
}

// loadCursorKey sets up the cursor sealer: from Options.CursorKey, else from the random key kept in
// the database (created by the first server to start), so cursors stay valid across restarts and
// servers.
func (s *Store) loadCursorKey(ctx context.Context) error {
	secret := s.opts.CursorKey
	if secret == nil {
		coll := s.db.Collection(ServerKeysCollection)
		var doc struct {
			Key []byte `bson:"key"`
		}
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "cursor"}}).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return fmt.Errorf("generate the cursor key: %w", err)
			}
			_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "cursor"}, {Key: "key", Value: key}, {Key: "createdAt", Value: s.opts.Now().UTC()}})
			if err != nil && !mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("store the cursor key: %w", err)
			}
			err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: "cursor"}}).Decode(&doc)
		}
		if err != nil {
			return fmt.Errorf("read the cursor key: %w", err)
		}
		secret = doc.Key
	}
	sl, err := newSealer(secret)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sealer = sl
	s.mu.Unlock()
	return nil
}

// cursors returns the sealer, loading the key on first use when Install did not.
func (s *Store) cursors(ctx context.Context) (*sealer, error) {
	s.mu.Lock()
	sl := s.sealer
	s.mu.Unlock()
	if sl != nil {
		return sl, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.loadCursorKey(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealer, nil
}
