package api

import (
	"sync"
	"time"
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

// fail records a failed attempt; once a limit is reached, blockedFor refuses further attempts.
func (l *loginLimiter) fail(account, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.accounts[account] = append(prune(l.accounts, account, now), now)
	l.address[ip] = append(prune(l.address, ip, now), now)
	l.sweeps++
	if l.sweeps%1024 == 0 {
		l.sweep(now)
	}
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
