package bridge

import "testing"

// Remapping as mosquitto 2.0 does it (bridge_topic.c, handle_publish.c).
func TestRemap(t *testing.T) {
	topics := []Topic{
		{Pattern: "plain/#", Out: true, In: true},                                      // no prefix: never remaps
		{Pattern: "#", Out: true, In: true, LocalPrefix: "loc/", RemotePrefix: "rem/"}, // both prefixes
		{Pattern: "", Out: true, In: true, LocalPrefix: "here/state", RemotePrefix: "there/state"},
		{Pattern: "s/#", In: true, RemotePrefix: "up/"}, // in only, remote prefix only
		{Pattern: "o/+", Out: true, LocalPrefix: "dev/"},
	}
	out := []struct{ local, remote string }{
		{"plain/a", "plain/a"},
		{"loc/x/y", "rem/x/y"},
		{"loc", "rem/loc"}, // "loc/#" matches "loc", which lacks the prefix: only added (as mosquitto)
		{"here/state", "there/state"},
		{"dev/o/1", "o/1"},
		{"other", "other"},
	}
	for _, c := range out {
		if got := toRemote(topics, c.local); got != c.remote {
			t.Errorf("toRemote(%q) = %q, want %q", c.local, got, c.remote)
		}
	}
	in := []struct{ remote, local string }{
		{"rem/x", "loc/x"},
		{"there/state", "here/state"},
		{"up/s/1", "s/1"},
		{"plain/b", "plain/b"},
		{"o/1", "o/1"}, // out only
	}
	for _, c := range in {
		if got := toLocal(topics, c.remote); got != c.local {
			t.Errorf("toLocal(%q) = %q, want %q", c.remote, got, c.local)
		}
	}
	// The first matching line with a prefix decides.
	first := []Topic{
		{Pattern: "a/#", Out: true, LocalPrefix: "", RemotePrefix: "one/"},
		{Pattern: "a/b", Out: true, RemotePrefix: "two/"},
	}
	if got := toRemote(first, "a/b"); got != "one/a/b" {
		t.Errorf("first match: %q", got)
	}
}
