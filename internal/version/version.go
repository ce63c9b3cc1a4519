// Package version holds the mqkit release version.
//
// A release build sets it with
// -ldflags "-X github.com/mqkit/mqkit/internal/version.Version=v1.2.3"
// (make build passes VERSION when given). Otherwise it comes from the
// build information Go embeds in every binary: the module version for
// "go install github.com/mqkit/mqkit/cmd/...@v1.2.3" (or @latest), and
// for a build in a git checkout the version Go derives from the commit
// (a pseudo-version such as v0.0.0-20261206173314-b0cab6e5d1f2, with
// "+dirty" for uncommitted changes).
package version

import "runtime/debug"

// Version is the mqkit version string.
var Version string

// fallback is the version of a binary built without module or VCS
// information (for example from a source tarball).
const fallback = "0.1.0-dev"

func init() {
	if Version != "" {
		return // set with -ldflags -X
	}
	bi, _ := debug.ReadBuildInfo()
	Version = fromBuildInfo(bi)
}

// fromBuildInfo picks the version from a binary's build information: the
// main module's version unless it is "(devel)", else the VCS revision,
// else fallback.
func fromBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return fallback
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return fallback
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fallback + "+" + rev + dirty
}
