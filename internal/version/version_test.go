package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "0.1.0-dev"},
		{"go install @v1.2.3", &debug.BuildInfo{Main: debug.Module{Path: "github.com/mqkit/mqkit", Version: "v1.2.3"}}, "v1.2.3"},
		{"pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206173314-b0cab6e5d1f2+dirty"}}, "v0.0.0-20261206173314-b0cab6e5d1f2+dirty"},
		{"devel with vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("b0cab6e5d1f2aa0011223344", "false")}, "0.1.0-dev+b0cab6e5d1f2"},
		{"devel dirty", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("b0cab6e", "true")}, "0.1.0-dev+b0cab6e-dirty"},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "0.1.0-dev"},
	}
	for _, tc := range tests {
		if got := fromBuildInfo(tc.bi); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersionSet: the test binary has build information, so Version is
// never empty.
func TestVersionSet(t *testing.T) {
	if Version == "" {
		t.Fatal("Version is empty")
	}
}
