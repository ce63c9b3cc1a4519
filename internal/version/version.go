// Package version holds the mqkit release version, set at build time with
// -ldflags "-X github.com/mqkit/mqkit/internal/version.Version=...".
package version

// Version is the mqkit version string.
var Version = "0.1.0-dev"
