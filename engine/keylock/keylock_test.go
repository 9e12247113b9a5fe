package keylock

import (
	"sync"
	"testing"
)

// TestLocks: one key's holders run one at a time, another key's holder does not wait for them, and a
// released key is forgotten.
func TestLocks(t *testing.T) {
	var k Locks
	unlockA := k.Lock("a")
	done := make(chan struct{})
	go func() { k.Lock("b")(); close(done) }()
	<-done // "b" was free although "a" is held

	var wg sync.WaitGroup
	counter, inside := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := k.Lock("c")
			inside++
			if inside != 1 {
				t.Errorf("%d holders of one key at once", inside)
			}
			counter++
			inside--
			unlock()
		}()
	}
	wg.Wait()
	unlockA()
	if counter != 20 || len(k.m) != 0 {
		t.Fatalf("counter %d, %d keys remembered", counter, len(k.m))
	}
}
