//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// lockShared takes a shared flock on f for the checks Open makes before
// bbolt opens the file (bbolt then takes its own exclusive lock), so that
// a file another process is writing is reported as locked, not read
// half-written. It waits up to lockTimeout; the lock goes with f.Close.
func lockShared(f *os.File) error {
	deadline := time.Now().Add(lockTimeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return ErrLocked
		}
		time.Sleep(50 * time.Millisecond) // poll, as bbolt's own flock does
	}
}
