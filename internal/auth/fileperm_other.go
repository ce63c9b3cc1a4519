//go:build !unix

package auth

// FileWarnings has nothing to say where Unix permissions do not apply.
func FileWarnings(path string) []string { return nil }
