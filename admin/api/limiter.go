package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login limits: an account is locked after accountMaxFailures failures within loginWindow, an address
// after addressMaxFailures (guessing across many accounts). The lock lasts until the failures age out.
const (
	loginWindow        = 15 * time.Minute
	accountMaxFailures = 5
	addressMaxFailures = 30
)

// loginLimiter counts recent failed logins per account and per client address. It lives in one server
// process; several servers each count on their own.
type loginLimiter struct {
	mu       sync.Mutex
	now      func() time.Time
	accounts map[string][]time.Time
	address  map[string][]time.Time
	sweeps   int
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, accounts: map[string][]time.Time{}, address: map[string][]time.Time{}}
}

// blockedFor reports how long the account or the address must still wait; 0 means it may try.
func (l *loginLimiter) blockedFor(account, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return max(wait(prune(l.accounts, account, now), accountMaxFailures, now), wait(prune(l.address, ip, now), addressMaxFailures, now))
}

// fail records a failed attempt; once a limit is reached, blockedFor refuses further attempts. It reports
// whether this failure locked the account or the address, so the lockout can be audited once.
func (l *loginLimiter) fail(account, ip string) (locked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.accounts[account] = append(prune(l.accounts, account, now), now)
	l.address[ip] = append(prune(l.address, ip, now), now)
	locked = len(l.accounts[account]) == accountMaxFailures || len(l.address[ip]) == addressMaxFailures
	l.sweeps++
	if l.sweeps%1024 == 0 {
		l.sweep(now)
	}
	return locked
}

// succeed clears an account's failures after a correct password.
func (l *loginLimiter) succeed(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accounts, account)
}

// sweep drops keys whose failures have all aged out, so memory stays bounded.
func (l *loginLimiter) sweep(now time.Time) {
	for _, m := range []map[string][]time.Time{l.accounts, l.address} {
		for k := range m {
			if len(prune(m, k, now)) == 0 {
				delete(m, k)
			}
		}
	}
}

// prune returns the failures of key that are still inside the window.
func prune(m map[string][]time.Time, key string, now time.Time) []time.Time {
	ts, ok := m[key]
	if !ok {
		return nil
	}
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= loginWindow {
		i++
	}
	if i > 0 {
		ts = ts[i:]
		m[key] = ts
	}
	return ts
}

// wait is how long until fewer than limit failures remain in the window.
func wait(ts []time.Time, limit int, now time.Time) time.Duration {
	if len(ts) < limit {
		return 0
	}
	return ts[len(ts)-limit].Add(loginWindow).Sub(now)
}

// RateLimit caps how fast one user or one API token may call the API. Each caller has a bucket of Burst
// requests refilled at PerSecond; an empty bucket is answered with 429 and Retry-After.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Default per-caller limits: generous for people and scripts, a ceiling for runaway loops.
const (
	defaultRatePerSecond = 100
	defaultRateBurst     = 1000
	maxRateBuckets       = 100_000
)

// rateLimiter holds one token bucket per caller key ("user:<id>" or "token:<id>"). It lives in one server
// process; several servers each enforce it on their own.
type rateLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	limit   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

func newRateLimiter(cfg RateLimit, now func() time.Time) *rateLimiter {
	if cfg.PerSecond <= 0 {
		cfg.PerSecond = defaultRatePerSecond
	}
	if cfg.Burst <= 0 {
		cfg.Burst = defaultRateBurst
	}
	return &rateLimiter{now: now, limit: rate.Limit(cfg.PerSecond), burst: cfg.Burst, buckets: map[string]*rate.Limiter{}}
}

// take spends one request of key's bucket; it returns 0 when allowed, or how long until a request would be.
func (l *rateLimiter) take(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxRateBuckets {
			// Full buckets carry no information; dropping them bounds memory.
			for k, old := range l.buckets {
				if old.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}
