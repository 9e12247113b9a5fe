package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

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
