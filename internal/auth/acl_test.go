package auth

import (
	"strconv"
	"strings"
	"testing"
)

// aclExample follows the structure of mosquitto's documented example
// (mosquitto.conf(5), aclfile.example) plus deny rules and patterns.
const aclExample = `# This affects access control for clients with no username.
topic read $SYS/#
topic public/#
topic deny public/secret

# This only affects clients with username "roger".
user roger
topic foo/bar
topic read sensors/#
topic deny sensors/private/#
topic write cmd/+/set

user with space
topic read spaced topic/#

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
pattern readwrite users/%u/#
pattern read devices/%c/in
pattern deny users/%u/locked
  # an indented comment
user roger
topic read extra/#
`

type aclCase struct {
	name     string
	user     string
	hasUser  bool
	clientID string
	topic    string
	acc      Access
	want     bool
}

func runACLCases(t *testing.T, a *ACL, cases []aclCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.Allowed(tc.user, tc.hasUser, tc.clientID, tc.topic, tc.acc); got != tc.want {
				t.Errorf("Allowed(user=%q/%v, id=%q, %q, %v) = %v, want %v",
					tc.user, tc.hasUser, tc.clientID, tc.topic, tc.acc, got, tc.want)
			}
		})
	}
}

func mustACL(t *testing.T, text string) *ACL {
	t.Helper()
	a, err := ParseACL(strings.NewReader(text), "acl")
	if err != nil {
		t.Fatalf("ParseACL: %v", err)
	}
	return a
}

func TestACLSemantics(t *testing.T) {
	a := mustACL(t, aclExample)
	anon := func(name, topic string, acc Access, want bool) aclCase {
		return aclCase{name: "anon/" + name, clientID: "c1", topic: topic, acc: acc, want: want}
	}
	roger := func(name, topic string, acc Access, want bool) aclCase {
		return aclCase{name: "roger/" + name, user: "roger", hasUser: true, clientID: "rc", topic: topic, acc: acc, want: want}
	}
	cases := []aclCase{
		// Anonymous block: lines before the first "user".
		anon("read $SYS", "$SYS/broker/uptime", Read, true),
		anon("no write $SYS", "$SYS/broker/uptime", Write, false),
		anon("readwrite default read", "public/a", Read, true),
		anon("readwrite default write", "public/a/b", Write, true),
		anon("deny beats grant read", "public/secret", Read, false),
		anon("deny beats grant write", "public/secret", Write, false),
		anon("user rules not for anon", "foo/bar", Read, false),
		anon("unlisted topic", "other", Read, false),
		anon("pattern %c applies to anon", "devices/c1/in", Read, true),
		anon("pattern %c other client", "devices/c2/in", Read, false),
		anon("pattern %u never for anon", "users//x", Read, false),
		anon("pattern write %c", "$SYS/broker/connection/c1/state", Write, true),

		// User block.
		roger("own topic readwrite", "foo/bar", Write, true),
		roger("read only", "sensors/t1", Read, true),
		roger("read only no write", "sensors/t1", Write, false),
		roger("deny subtree", "sensors/private/x", Read, false),
		roger("deny subtree parent", "sensors/private", Read, false),
		roger("write wildcard", "cmd/lamp/set", Write, true),
		roger("write wildcard no read", "cmd/lamp/set", Read, false),
		roger("anon rules not for users", "public/a", Read, false),
		roger("repeated user block merges", "extra/x", Read, true),
		roger("pattern %u", "users/roger/inbox", Read, true),
		roger("pattern %u other user", "users/bob/inbox", Read, false),
		roger("pattern deny beats pattern grant", "users/roger/locked", Write, false),
		roger("$SYS not matched by #", "$SYS/x", Read, false),

		// A user without a block gets only the patterns.
		{name: "unlisted user pattern", user: "bob", hasUser: true, clientID: "b", topic: "users/bob/x", acc: Write, want: true},
		{name: "unlisted user no anon rules", user: "bob", hasUser: true, clientID: "b", topic: "public/a", acc: Read, want: false},
		// An empty username is a username, not anonymous.
		{name: "empty username not anon", user: "", hasUser: true, clientID: "e", topic: "public/a", acc: Read, want: false},
		{name: "empty username no %u", user: "", hasUser: true, clientID: "e", topic: "users//x", acc: Read, want: false},
		{name: "username with space", user: "with space", hasUser: true, clientID: "s", topic: "spaced topic/x", acc: Read, want: true},

		// Dangerous identities: patterns never grant.
		{name: "client id +", clientID: "+", topic: "devices/+/in", acc: Read, want: false},
		{name: "client id # other", clientID: "a#", topic: "devices/x/in", acc: Read, want: false},
		{name: "username #", user: "#", hasUser: true, clientID: "x", topic: "users/anything", acc: Read, want: false},
		{name: "username with + blocks %c too", user: "a+b", hasUser: true, clientID: "x", topic: "devices/x/in", acc: Read, want: false},
		{name: "client id with /", clientID: "a/b", topic: "devices/a/b/in", acc: Read, want: false},
		{name: "client id with / no escape", clientID: "c1/x", topic: "devices/c1/x/in", acc: Read, want: false},

		// Invalid arguments are never allowed.
		{name: "wildcard topic for read", clientID: "c1", topic: "public/#", acc: Read, want: false},
		{name: "empty topic", clientID: "c1", topic: "", acc: Write, want: false},
		{name: "zero access", clientID: "c1", topic: "public/a", acc: 0, want: false},
		{name: "unknown access bit", clientID: "c1", topic: "public/a", acc: 8, want: false},
		{name: "read|write both needed", user: "roger", hasUser: true, clientID: "rc", topic: "sensors/a", acc: Read | Write, want: false},
		{name: "read|write both granted", user: "roger", hasUser: true, clientID: "rc", topic: "foo/bar", acc: Read | Write, want: true},
	}
	runACLCases(t, a, cases)
}

func TestACLSubscribe(t *testing.T) {
	a := mustACL(t, aclExample)
	sub := func(name, user string, hasUser bool, filter string, want bool) aclCase {
		return aclCase{name: name, user: user, hasUser: hasUser, clientID: "c1", topic: filter, acc: Subscribe, want: want}
	}
	cases := []aclCase{
		sub("exact readable topic", "roger", true, "sensors/t1", true),
		sub("filter covered by read rule", "roger", true, "sensors/t1/+", true),
		sub("meets deny, not covered by it", "roger", true, "sensors/+/temp", true), // sensors/private/temp filtered at delivery
		sub("same filter as rule", "roger", true, "extra/#", true),
		sub("beside a deny inside it", "roger", true, "sensors/#", true), // sensors/private/... filtered at delivery
		sub("broader than every rule", "roger", true, "#", true),         // delivers what roger may read
		sub("meets no read rule", "roger", true, "other/+", false),
		sub("write-only rule does not grant", "roger", true, "cmd/lamp/set", false),
		sub("readwrite rule grants", "roger", true, "foo/bar", true),
		sub("intersects deny", "roger", true, "sensors/+/x", true), // sensors/private/x filtered at delivery
		sub("covered by deny", "roger", true, "sensors/private/+", false),
		sub("covered by deny, deeper", "roger", true, "sensors/private/a/#", false),
		sub("beside deny", "roger", true, "sensors/public/#", true),
		sub("inside deny", "roger", true, "sensors/private/x", false),
		sub("anon $SYS", "", false, "$SYS/broker/#", true),
		sub("anon public/# meets deny", "", false, "public/#", true),
		sub("anon deny covers", "", false, "public/secret", false),
		sub("anon public/+/x avoids deny", "", false, "public/+/x", true),
		sub("anon #", "", false, "#", true),
		sub("anon write-only region", "", false, "cmd/#", false),
		sub("pattern covers own subtree", "roger", true, "users/roger/#", true), // users/roger/locked filtered at delivery
		sub("pattern deny covers", "roger", true, "users/roger/locked", false),
		sub("pattern own leaf", "roger", true, "users/roger/inbox/+", true),
		sub("pattern other user", "roger", true, "users/bob/inbox", false),
		sub("pattern %c read", "", false, "devices/c1/in", true),
		sub("invalid filter", "roger", true, "sensors/#/x", false),
		sub("shared-subscription prefix is caller's job", "roger", true, "$share/g/sensors/t1", false),
	}
	runACLCases(t, a, cases)

	// The $ rule: "topic read #" grants neither $SYS reads nor $SYS subscriptions.
	b := mustACL(t, "topic read #\n")
	runACLCases(t, b, []aclCase{
		{name: "# reads plain", clientID: "c", topic: "a/b", acc: Read, want: true},
		{name: "# not $SYS", clientID: "c", topic: "$SYS/x", acc: Read, want: false},
		{name: "sub # ok", clientID: "c", topic: "#", acc: Subscribe, want: true},
		{name: "sub $SYS/# not covered", clientID: "c", topic: "$SYS/#", acc: Subscribe, want: false},
	})
	// The Eclipse Paho interoperability suite's ACL (issue 11 item 2).
	paho := mustACL(t, "topic deny test/nosubscribe\ntopic readwrite #\n")
	runACLCases(t, paho, []aclCase{
		{name: "paho #", clientID: "c", topic: "#", acc: Subscribe, want: true},
		{name: "paho +/+", clientID: "c", topic: "+/+", acc: Subscribe, want: true},
		{name: "paho test/#", clientID: "c", topic: "test/#", acc: Subscribe, want: true},
		{name: "paho test/+", clientID: "c", topic: "test/+", acc: Subscribe, want: true},
		{name: "paho denied filter", clientID: "c", topic: "test/nosubscribe", acc: Subscribe, want: false},
		{name: "paho denied topic not read", clientID: "c", topic: "test/nosubscribe", acc: Read, want: false},
		{name: "paho other topic read", clientID: "c", topic: "test/x", acc: Read, want: true},
	})
	// "deny secret/#" refuses what lies wholly inside it, not #.
	d := mustACL(t, "topic deny secret/#\ntopic readwrite #\n")
	runACLCases(t, d, []aclCase{
		{name: "deny inside", clientID: "c", topic: "secret/x/#", acc: Subscribe, want: false},
		{name: "deny itself", clientID: "c", topic: "secret/#", acc: Subscribe, want: false},
		{name: "deny parent level", clientID: "c", topic: "secret", acc: Subscribe, want: false}, // secret/# matches secret
		{name: "deny not #", clientID: "c", topic: "#", acc: Subscribe, want: true},
		{name: "deny not +/x", clientID: "c", topic: "+/x", acc: Subscribe, want: true},
	})
	// Wildcards of the filter are wildcards: a/# grants a/+ and a/b/#.
	w := mustACL(t, "topic read a/#\n")
	runACLCases(t, w, []aclCase{
		{name: "a/# grants a/+", clientID: "c", topic: "a/+", acc: Subscribe, want: true},
		{name: "a/# grants a/b/#", clientID: "c", topic: "a/b/#", acc: Subscribe, want: true},
		{name: "a/# grants +/b", clientID: "c", topic: "+/b", acc: Subscribe, want: true}, // delivers a/b
		{name: "a/# not b/#", clientID: "c", topic: "b/#", acc: Subscribe, want: false},
		{name: "a/# not +/+ literal elsewhere", clientID: "c", topic: "b/+", acc: Subscribe, want: false},
	})
	// A deny on $SYS does not block subscribing to # (they cannot meet).
	c := mustACL(t, "topic read #\ntopic deny $SYS/#\ntopic read $SYS/broker/uptime\n")
	runACLCases(t, c, []aclCase{
		{name: "sub # beside $SYS deny", clientID: "c", topic: "#", acc: Subscribe, want: true},
		{name: "$SYS deny beats later grant", clientID: "c", topic: "$SYS/broker/uptime", acc: Read, want: false},
	})
}

func TestACLEmptyFileDeniesEverything(t *testing.T) {
	a := mustACL(t, "# nothing\n\n")
	runACLCases(t, a, []aclCase{
		{name: "anon", clientID: "c", topic: "a", acc: Read, want: false},
		{name: "user", user: "u", hasUser: true, clientID: "c", topic: "a", acc: Write, want: false},
	})
}

func TestACLParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		want       string
	}{
		{"unknown keyword", "topic a\nfoo bar\n", 2, "unknown keyword \"foo\""},
		{"bad access", "topic rw a/b\n", 1, "invalid access type \"rw\""},
		{"empty topic", "\ntopic\n", 2, "empty topic"},
		{"empty topic with blanks", "topic   \n", 1, "empty topic"},
		{"missing user", "user\n", 1, "missing username"},
		{"invalid filter", "user u\ntopic read a/#/b\n", 2, "invalid topic filter"},
		{"invalid plus", "topic a+b\n", 1, "invalid topic filter"},
		{"partial %c", "pattern read a/x%c\n", 1, "whole topic level"},
		{"partial %u", "pattern read %u-data/#\n", 1, "whole topic level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseACL(strings.NewReader(tc.text), "my.acl")
			if err == nil {
				t.Fatal("want error")
			}
			prefix := "my.acl:" + strconv.Itoa(tc.line) + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want prefix %q containing %q", err, prefix, tc.want)
			}
		})
	}
}

func TestACLParseDetails(t *testing.T) {
	// "topic read" alone is the topic named "read" (mosquitto parses it so).
	a := mustACL(t, "topic read\ntopic\tdeny\tx y\ntopic read  spaced   name \npattern read a/b\n")
	runACLCases(t, a, []aclCase{
		{name: "topic named read", clientID: "c", topic: "read", acc: Write, want: true},
		{name: "tab separated deny", clientID: "c", topic: "x y", acc: Read, want: false},
		{name: "inner blanks kept, outer trimmed", clientID: "c", topic: "spaced   name", acc: Read, want: true},
		{name: "static pattern", user: "u", hasUser: true, clientID: "c", topic: "a/b", acc: Read, want: true},
	})
	if w := a.Warnings(); len(w) != 1 || !strings.Contains(w[0], "acl:4:") {
		t.Errorf("warnings %q, want one for line 4", w)
	}
}
