//go:build unix

package testconn

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file, inside Config.Dir, whose exclusive flock guards the store's
// read-modify-write across processes.
const LockFile = StoreFile + ".lock"

// lockStore takes the exclusive OS lock of dir's store, waiting for other processes (and
// other open descriptors of this one) to release it, and returns its release. The kernel
// drops the lock when its holder dies, so a plugin killed mid-write blocks nobody.
func lockStore(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open store lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock store: %w", err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the lock
}
