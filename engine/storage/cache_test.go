package storage

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a hand-moved clock for expiry tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestTTLCache(t *testing.T) {
	type step struct {
		op    string // set, get, delete, purge, advance
		key   string
		value int
		d     time.Duration
		want  int
		found bool
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"a value is kept until its ttl", 0, []step{
			{op: "set", key: "a", value: 1},
			{op: "advance", d: 9 * time.Second},
			{op: "get", key: "a", want: 1, found: true},
			{op: "advance", d: time.Second},
			{op: "get", key: "a", found: false},
		}},
		{"set again restarts the ttl", 0, []step{
			{op: "set", key: "a", value: 1},
			{op: "advance", d: 8 * time.Second},
			{op: "set", key: "a", value: 2},
			{op: "advance", d: 8 * time.Second},
			{op: "get", key: "a", want: 2, found: true},
		}},
		{"delete and purge forget at once", 0, []step{
			{op: "set", key: "a", value: 1},
			{op: "set", key: "b", value: 2},
			{op: "delete", key: "a"},
			{op: "get", key: "a", found: false},
			{op: "get", key: "b", want: 2, found: true},
			{op: "purge"},
			{op: "get", key: "b", found: false},
		}},
		{"a full cache drops the entry closest to expiry", 2, []step{
			{op: "set", key: "a", value: 1},
			{op: "advance", d: time.Second},
			{op: "set", key: "b", value: 2},
			{op: "set", key: "c", value: 3},
			{op: "get", key: "a", found: false},
			{op: "get", key: "b", want: 2, found: true},
			{op: "get", key: "c", want: 3, found: true},
		}},
		{"expired entries make room before live ones are dropped", 2, []step{
			{op: "set", key: "a", value: 1},
			{op: "advance", d: 5 * time.Second},
			{op: "set", key: "b", value: 2},
			{op: "advance", d: 5 * time.Second},
			{op: "set", key: "c", value: 3},
			{op: "get", key: "b", want: 2, found: true},
			{op: "get", key: "c", want: 3, found: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			c := NewTTLCache[string, int](10*time.Second, tt.max)
			c.SetClock(clk.now)
			for i, s := range tt.steps {
				switch s.op {
				case "set":
					c.Set(s.key, s.value)
				case "delete":
					c.Delete(s.key)
				case "purge":
					c.Purge()
				case "advance":
					clk.t = clk.t.Add(s.d)
				case "get":
					got, ok := c.Get(s.key)
					if ok != s.found || got != s.want {
						t.Fatalf("step %d: Get(%q) = %d, %v; want %d, %v", i, s.key, got, ok, s.want, s.found)
					}
				}
				if tt.max > 0 && c.Len() > tt.max {
					t.Fatalf("step %d: %d entries, max %d", i, c.Len(), tt.max)
				}
			}
		})
	}
}

func TestTTLCacheConcurrent(t *testing.T) {
	c := NewTTLCache[string, int](time.Minute, 100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := fmt.Sprint(i % 150)
				c.Set(k, g)
				c.Get(k)
				if i%97 == 0 {
					c.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 100 {
		t.Fatalf("%d entries, max 100", c.Len())
	}
}

func BenchmarkTTLCacheGet(b *testing.B) {
	c := NewTTLCache[string, int](time.Minute, 1000)
	for i := range 1000 {
		c.Set(fmt.Sprint(i), i)
	}
	for i := 0; b.Loop(); i++ {
		c.Get("500")
	}
}
