package config

import (
	"strings"
	"testing"
)

// TestTopicLimitOptions: topic_hierarchy_limit and max_topic_length
// default to mosquitto's built-in limits (200 separators, 65535 bytes),
// are validated, and survive --print-config (Format) and back.
func TestTopicLimitOptions(t *testing.T) {
	c := Default()
	if c.TopicHierarchyLimit != 200 || c.MaxTopicLength != 65535 {
		t.Errorf("defaults %d %d, want 200 65535", c.TopicHierarchyLimit, c.MaxTopicLength)
	}
	c = parse(t, "topic_hierarchy_limit 16\nmax_topic_length 1024\n")
	if c.TopicHierarchyLimit != 16 || c.MaxTopicLength != 1024 {
		t.Errorf("parsed %d %d", c.TopicHierarchyLimit, c.MaxTopicLength)
	}
	if c = parse(t, "topic_hierarchy_limit -1\n"); c.TopicHierarchyLimit != -1 {
		t.Errorf("-1 parsed as %d", c.TopicHierarchyLimit)
	}
	var b strings.Builder
	if err := parse(t, "topic_hierarchy_limit 7\nmax_topic_length 99\n").Format(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ntopic_hierarchy_limit 7\n", "\nmax_topic_length 99\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Format lacks %q:\n%s", want, b.String())
		}
	}
	back := parse(t, b.String())
	if back.TopicHierarchyLimit != 7 || back.MaxTopicLength != 99 {
		t.Errorf("round trip %d %d", back.TopicHierarchyLimit, back.MaxTopicLength)
	}
	for _, bad := range []string{"topic_hierarchy_limit 0", "topic_hierarchy_limit -2", "topic_hierarchy_limit x",
		"max_topic_length 0", "max_topic_length 65536"} {
		if _, err := Parse(strings.NewReader(bad+"\n"), "test.conf"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestUseUsernameAsClientID: a listener option, as in mosquitto (before
// any listener line it belongs to the default listener).
func TestUseUsernameAsClientID(t *testing.T) {
	c := parse(t, "listener 1883\nlistener 1884\nuse_username_as_clientid true\n")
	if c.Listeners[0].UseUsernameAsClientID || !c.Listeners[1].UseUsernameAsClientID {
		t.Errorf("per listener: %v %v", c.Listeners[0].UseUsernameAsClientID, c.Listeners[1].UseUsernameAsClientID)
	}
	c = parse(t, "use_username_as_clientid true\nport 1885\n")
	if l := onlyListener(t, c); !l.UseUsernameAsClientID || !l.Default {
		t.Errorf("default listener: %+v", l)
	}
	var b strings.Builder
	if err := parse(t, "listener 1883\nuse_username_as_clientid true\n").Format(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nuse_username_as_clientid true\n") {
		t.Errorf("Format lacks use_username_as_clientid:\n%s", b.String())
	}
	if _, err := Parse(strings.NewReader("use_username_as_clientid maybe\n"), "test.conf"); err == nil {
		t.Error("a non-boolean value accepted")
	}
}
