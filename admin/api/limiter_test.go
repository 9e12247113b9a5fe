package api

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	l := newRateLimiter(RateLimit{PerSecond: 1, Burst: 3}, func() time.Time { return now })
	steps := []struct {
		name     string
		key      string
		advance  time.Duration
		wantWait bool
	}{
		{"first", "user:a", 0, false},
		{"second", "user:a", 0, false},
		{"third", "user:a", 0, false},
		{"burst spent", "user:a", 0, true},
		{"still spent", "user:a", 500 * time.Millisecond, true},
		{"other caller unaffected", "token:t", 0, false},
		{"refilled", "user:a", 600 * time.Millisecond, false},
		{"spent again", "user:a", 0, true},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		wait := l.take(st.key)
		if (wait > 0) != st.wantWait {
			t.Fatalf("%s: wait %v, want waiting=%v", st.name, wait, st.wantWait)
		}
		if wait > time.Second {
			t.Fatalf("%s: wait %v exceeds one refill", st.name, wait)
		}
	}
}
