package surveys

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

var db *mongo.Database

func TestMain(m *testing.M) { os.Exit(ferrettest.Run(m, &db)) }

// newStore gives each test its own database and a clock it moves.
func newStore(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	s := New(db.Client().Database(strings.ReplaceAll(t.Name(), "/", "_")), storage.NewBackend(true))
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, &now
}

// TestRetriedCreateReplacesTheToken: a retried task (same key) keeps one survey and only the newest
// link works; an answered survey cannot be re-created.
func TestRetriedCreateReplacesTheToken(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	req := Request{Key: "wf/7", Complaint: "c-1", Subject: "Late parcel", Language: "ru"}
	first, oldToken, err := s.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, token, err := s.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != second.ID || oldToken == token {
		t.Fatalf("a retry made survey %s (token changed: %v), want %s with a new token", second.ID, oldToken != token, first.ID)
	}
	if _, err := s.Open(ctx, oldToken); !errors.Is(err, ErrNotFound) {
		t.Errorf("the replaced link: %v", err)
	}
	sv, err := s.Open(ctx, token)
	if err != nil || sv.Subject != "Late parcel" || sv.Language != "ru" || sv.Complaint != "c-1" {
		t.Fatalf("open: %+v, %v", sv, err)
	}
	if _, err := s.Answer(ctx, token, 4, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(ctx, req); !errors.Is(err, ErrAnswered) {
		t.Errorf("re-creating an answered survey: %v", err)
	}
	if _, _, err := s.Create(ctx, Request{Key: "x"}); err == nil {
		t.Error("a survey without a complaint was created")
	}
}

// TestAnswer takes one answer within the scale and the link's lifetime, and hands it over once.
func TestAnswer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		score    int
		comment  string
		after    time.Duration
		wantErr  error
		wantText string
	}{
		{"a rating with a comment", 2, "  Too slow  ", 0, nil, ""},
		{"below the scale", 0, "", 0, nil, "score: choose a rating from 1 to 5"},
		{"above the scale", 6, "", 0, nil, "score: choose a rating from 1 to 5"},
		{"a comment too long", 3, strings.Repeat("ж", MaxComment+1), 0, nil, "comment: at most 2000 characters"},
		{"after the link expired", 5, "", 8 * 24 * time.Hour, ErrNotFound, ""},
		{"on the last day of the link", 5, "", 7*24*time.Hour - time.Minute, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, now := newStore(t)
			var handed []Survey
			s.OnAnswer = func(_ context.Context, sv Survey) error { handed = append(handed, sv); return nil }
			_, token, err := s.Create(ctx, Request{Complaint: "c-2", ValidFor: 7 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			*now = now.Add(tt.after)
			sv, err := s.Answer(ctx, token, tt.score, tt.comment)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			case tt.wantText != "":
				var inv *InvalidError
				if !errors.As(err, &inv) || err.Error() != tt.wantText {
					t.Fatalf("error %v, want %q", err, tt.wantText)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if sv.Score != tt.score || sv.Comment != strings.TrimSpace(tt.comment) || !sv.Delivered || len(handed) != 1 || handed[0].Score != tt.score {
				t.Errorf("answer %+v, handed over %+v", sv, handed)
			}
			if _, err := s.Answer(ctx, token, 1, ""); !errors.Is(err, ErrAnswered) {
				t.Errorf("a second answer: %v", err)
			}
			if got, err := s.Open(ctx, token); err != nil || got.Score != tt.score {
				t.Errorf("an answered survey opens with %+v, %v", got, err)
			}
		})
	}
}

// TestUndeliveredAnswerIsDeliveredAgain: when the process cannot take the answer, the next submission
// delivers the first answer, not the new one.
func TestUndeliveredAnswerIsDeliveredAgain(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	down := errors.New("temporal is down")
	var handed []int
	s.OnAnswer = func(_ context.Context, sv Survey) error {
		handed = append(handed, sv.Score)
		if len(handed) == 1 {
			return down
		}
		return nil
	}
	_, token, err := s.Create(ctx, Request{Complaint: "c-3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Answer(ctx, token, 1, "bad"); !errors.Is(err, down) {
		t.Fatalf("first answer: %v", err)
	}
	sv, err := s.Answer(ctx, token, 5, "changed my mind")
	if err != nil {
		t.Fatal(err)
	}
	if sv.Score != 1 || sv.Comment != "bad" || !sv.Delivered || len(handed) != 2 || handed[1] != 1 {
		t.Errorf("redelivered %+v, handed %v", sv, handed)
	}
	if _, err := s.Answer(ctx, token, 5, ""); !errors.Is(err, ErrAnswered) {
		t.Errorf("after delivery: %v", err)
	}
}
