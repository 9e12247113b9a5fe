// Package surveys keeps the satisfaction surveys a resolved complaint sends its customer: a link with a
// random token (only its SHA-256 digest is stored) that opens a small page without login, where the
// customer rates the help from 1 to 5 and may leave a comment. An answer is handed to the complaint's
// process (OnAnswer publishes it as a message); a survey is answered once and expires.
package surveys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/storage"
)

// Errors the page maps to answers.
var (
	// ErrNotFound means the token names no survey, or an expired one.
	ErrNotFound = errors.New("this survey link is not valid or has expired")
	// ErrAnswered means the survey was answered already.
	ErrAnswered = errors.New("this survey was already answered")
)

// MaxComment is the longest comment kept, in characters.
const MaxComment = 2000

// Survey is one satisfaction survey about one complaint.
type Survey struct {
	ID        string    `bson:"id" json:"id"`
	Complaint string    `bson:"complaint" json:"complaint"`
	Contact   string    `bson:"contact,omitempty" json:"contact,omitempty"`
	Subject   string    `bson:"subject,omitempty" json:"subject,omitempty"`
	Language  string    `bson:"language,omitempty" json:"language,omitempty"`
	Digest    string    `bson:"digest" json:"-"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	ExpiresAt time.Time `bson:"expiresAt" json:"expiresAt"`
	// AnsweredAt, Score and Comment are set by the answer; Delivered once OnAnswer took it.
	AnsweredAt *time.Time `bson:"answeredAt,omitempty" json:"answeredAt,omitempty"`
	Score      int        `bson:"score,omitempty" json:"score,omitempty"`
	Comment    string     `bson:"comment,omitempty" json:"comment,omitempty"`
	Delivered  bool       `bson:"delivered,omitempty" json:"delivered,omitempty"`
}

type tokenDoc struct {
	ID     string `bson:"_id"`
	Survey string `bson:"survey"`
}

// Store keeps surveys ("surveys", written through storage.Mutate) and the token digests pointing at
// them ("survey_tokens"), both read by _id only.
type Store struct {
	surveys *mongo.Collection
	tokens  *mongo.Collection
	backend *storage.Backend
	now     func() time.Time
	// OnAnswer hands an answer to the complaint's process; an error keeps the answer undelivered, and
	// submitting again delivers it again.
	OnAnswer func(ctx context.Context, s Survey) error
}

// New returns a store on db.
func New(db *mongo.Database, backend *storage.Backend) *Store {
	return &Store{surveys: db.Collection("surveys"), tokens: db.Collection("survey_tokens"), backend: backend, now: time.Now}
}

func digest(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Request says what a new survey is about.
type Request struct {
	// Key makes a retried create one survey (a new token replaces the one never handed out).
	Key       string
	Complaint string
	Contact   string
	Subject   string
	Language  string
	// ValidFor is how long the link works; default 30 days.
	ValidFor time.Duration
}

// Create makes a survey and returns it with its token, which only the link carries.
func (s *Store) Create(ctx context.Context, r Request) (Survey, string, error) {
	if r.Complaint == "" {
		return Survey{}, "", errors.New("a survey needs the complaint it is about")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Survey{}, "", fmt.Errorf("surveys: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	id := uuid.NewString()
	if r.Key != "" {
		id = uuid.NewSHA1(uuid.NameSpaceURL, []byte("rapport:survey:"+r.Key)).String()
	}
	if r.ValidFor <= 0 {
		r.ValidFor = 30 * 24 * time.Hour
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if _, err := s.tokens.InsertOne(ctx, tokenDoc{ID: digest(token), Survey: id}); err != nil {
		return Survey{}, "", fmt.Errorf("surveys: save token: %w", err)
	}
	sv, err := storage.Mutate(ctx, s.backend, s.surveys, id, func(cur Survey, exists bool) (Survey, storage.Op, error) {
		if exists && cur.AnsweredAt != nil {
			return cur, storage.Skip, ErrAnswered
		}
		return Survey{ID: id, Complaint: r.Complaint, Contact: r.Contact, Subject: r.Subject, Language: r.Language,
			Digest: digest(token), CreatedAt: now, ExpiresAt: now.Add(r.ValidFor)}, storage.Write, nil
	})
	if err != nil {
		return Survey{}, "", err
	}
	return sv, token, nil
}

// Open returns the survey a token names; ErrNotFound for an unknown, replaced or expired token.
func (s *Store) Open(ctx context.Context, token string) (Survey, error) {
	if token == "" || len(token) > 200 {
		return Survey{}, ErrNotFound
	}
	var t tokenDoc
	if err := s.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: digest(token)}}).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Survey{}, ErrNotFound
		}
		return Survey{}, fmt.Errorf("surveys: token: %w", err)
	}
	var env struct {
		V Survey `bson:"v"`
	}
	if err := s.surveys.FindOne(ctx, bson.D{{Key: "_id", Value: t.Survey}}).Decode(&env); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Survey{}, ErrNotFound
		}
		return Survey{}, fmt.Errorf("surveys: read: %w", err)
	}
	sv := env.V
	if sv.Digest != digest(token) || (sv.AnsweredAt == nil && s.now().After(sv.ExpiresAt)) {
		return Survey{}, ErrNotFound
	}
	return sv, nil
}

// InvalidError is an answer outside the scale or too long.
type InvalidError struct{ Field, Message string }

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }

// Answer records the customer's rating (1 to 5) and comment once and hands it to OnAnswer. An answer
// recorded but not yet delivered is delivered again by the next submission (with the first answer).
func (s *Store) Answer(ctx context.Context, token string, score int, comment string) (Survey, error) {
	if score < 1 || score > 5 {
		return Survey{}, &InvalidError{Field: "score", Message: "choose a rating from 1 to 5"}
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > MaxComment {
		return Survey{}, &InvalidError{Field: "comment", Message: fmt.Sprintf("at most %d characters", MaxComment)}
	}
	sv, err := s.Open(ctx, token)
	if err != nil {
		return Survey{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sv, err = storage.Mutate(ctx, s.backend, s.surveys, sv.ID, func(cur Survey, exists bool) (Survey, storage.Op, error) {
		switch {
		case !exists:
			return cur, storage.Skip, ErrNotFound
		case cur.AnsweredAt != nil && cur.Delivered:
			return cur, storage.Skip, ErrAnswered
		case cur.AnsweredAt != nil:
			return cur, storage.Skip, nil
		}
		cur.AnsweredAt, cur.Score, cur.Comment = &now, score, comment
		return cur, storage.Write, nil
	})
	if err != nil {
		return Survey{}, err
	}
	if s.OnAnswer != nil {
		if err := s.OnAnswer(ctx, sv); err != nil {
			return sv, fmt.Errorf("surveys: deliver the answer: %w", err)
		}
	}
	return storage.Mutate(ctx, s.backend, s.surveys, sv.ID, func(cur Survey, _ bool) (Survey, storage.Op, error) {
		cur.Delivered = true
		return cur, storage.Write, nil
	})
}
