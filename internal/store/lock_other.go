//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "os"

// lockShared is a no-op where flock is unavailable; bbolt's own lock
// still keeps a second writer out once the file is open.
func lockShared(*os.File) error { return nil }
