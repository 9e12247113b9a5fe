package api

import (
	"testing"
	"time"
)

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name      string
		failures  int
		sameIP    bool
		advance   time.Duration
		wantBlock bool
	}{
		{"below the account limit", accountMaxFailures - 1, true, 0, false},
		{"at the account limit", accountMaxFailures, true, 0, true},
		{"lock ends when failures age out", accountMaxFailures, true, loginWindow, false},
		{"still locked just before the window ends", accountMaxFailures, true, loginWindow - time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
			l := newLoginLimiter(clock)
			for range tt.failures {
				l.fail("a@example.test", "10.0.0.1")
			}
			now = now.Add(tt.advance)
			if got := l.blockedFor("a@example.test", "10.0.0.2") > 0; got != tt.wantBlock {
				t.Errorf("blocked = %v, want %v", got, tt.wantBlock)
			}
		})
	}

	t.Run("address limit spans accounts", func(t *testing.T) {
		now = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		l := newLoginLimiter(clock)
		for i := range addressMaxFailures {
			l.fail(string(rune('a'+i%26))+"@example.test", "10.0.0.9")
		}
		if l.blockedFor("fresh@example.test", "10.0.0.9") <= 0 {
			t.Error("address not blocked after many failures across accounts")
		}
		if l.blockedFor("fresh@example.test", "10.0.0.10") > 0 {
			t.Error("another address is blocked")
		}
	})

	t.Run("success clears the account", func(t *testing.T) {
		l := newLoginLimiter(clock)
		for range accountMaxFailures {
			l.fail("b@example.test", "10.0.0.1")
		}
		l.succeed("b@example.test")
		if l.blockedFor("b@example.test", "10.0.0.3") > 0 {
			t.Error("account still blocked after success")
		}
	})
}

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

func TestLoginLimiterReportsLockOnce(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	l := newLoginLimiter(func() time.Time { return now })
	locks := 0
	for range accountMaxFailures + 2 {
		if l.fail("c@example.test", "10.0.0.1") {
			locks++
		}
	}
	if locks != 1 {
		t.Fatalf("lock reported %d times, want once", locks)
	}
}
