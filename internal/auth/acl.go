package auth

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Access is a kind of access checked against an ACL. Values match
// mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE / MOSQ_ACL_SUBSCRIBE.
type Access int

const (
	// Read: a message on a topic may be delivered to the client.
	Read Access = 1
	// Write: the client may publish to a topic (including its will).
	Write Access = 2
	// Subscribe: the client may subscribe to a topic filter. It is granted
	// by read (and readwrite) rules; see (*ACL).Allowed.
	Subscribe Access = 4
)

func (a Access) String() string {
	var parts []string
	for _, x := range []struct {
		bit  Access
		name string
	}{{Read, "read"}, {Write, "write"}, {Subscribe, "subscribe"}} {
		if a&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// aclRule is one "topic" or "pattern" line. access 0 means deny.
type aclRule struct {
	access Access
	filter string // topic rules: the filter; patterns: the template
	line   int
	usesC  bool // pattern has a %c level
	usesU  bool // pattern has a %u level
}

// aclBlock holds the rules of one block, deny rules apart so that they are
// checked first.
type aclBlock struct {
	deny, grant []aclRule
}

func (b *aclBlock) add(r aclRule) {
	if r.access == 0 {
		b.deny = append(b.deny, r)
	} else {
		b.grant = append(b.grant, r)
	}
}

// ACL is a parsed mosquitto ACL file. It is immutable after loading and
// safe for concurrent use.
type ACL struct {
	anon     aclBlock             // rules before the first "user" line
	users    map[string]*aclBlock // "user NAME" blocks (repeated blocks merge)
	patterns aclBlock             // "pattern" lines, for every client
	warnings []string
}

// LoadACLFile reads and parses a mosquitto ACL file.
func LoadACLFile(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("acl file: %w", err)
	}
	defer f.Close()
	return ParseACL(f, path)
}

// ParseACL parses ACL text; name is used in messages. The syntax is
// mosquitto's (mosquitto.conf(5), acl_file):
//
//	# comment (first non-blank character '#'); blank lines are ignored
//	topic [read|write|readwrite|deny] FILTER    rules of the current block
//	user USERNAME                               starts USERNAME's block
//	pattern [read|write|readwrite|deny] FILTER  rule for every client
//
// Lines before the first "user" line form the anonymous block (clients
// that sent no username). The access word defaults to readwrite; with an
// access word the rest of the line (trimmed) is the filter, so filters
// with spaces need one. In a pattern, %c (client id) and %u (username)
// must each be a whole topic level ("a/%c/b", not "a/x%c"); mosquitto 2.0
// substitutes them anywhere, mosquitto's documentation requires whole
// levels, and we reject the other form with an error.
//
// Every error names the file and line.
func ParseACL(r io.Reader, name string) (*ACL, error) {
	a := &ACL{users: make(map[string]*aclBlock)}
	cur := &a.anon
	err := eachLine(r, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return nil
		}
		kw, rest := cutField(line)
		switch kw {
		case "user":
			if rest == "" {
				return errors.New("missing username after 'user'")
			}
			b := a.users[rest]
			if b == nil {
				b = &aclBlock{}
				a.users[rest] = b
			}
			cur = b
			return nil
		case "topic", "pattern":
			r, err := parseRule(kw, rest, n)
			if err != nil {
				return err
			}
			if kw == "topic" {
				cur.add(r)
				return nil
			}
			if !r.usesC && !r.usesU {
				a.warnings = append(a.warnings, fmt.Sprintf(
					"%s:%d: pattern %q contains neither %%c nor %%u", name, n, r.filter))
			}
			a.patterns.add(r)
			return nil
		default:
			return fmt.Errorf("invalid line: unknown keyword %q (want topic, pattern or user)", kw)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	return a, nil
}

// cutField splits s at the first run of blanks.
func cutField(s string) (first, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

func parseRule(kw, rest string, line int) (aclRule, error) {
	r := aclRule{line: line, access: Read | Write}
	if rest == "" {
		return r, fmt.Errorf("empty topic after '%s'", kw)
	}
	word, filter := cutField(rest)
	if filter == "" {
		// "topic foo": the single word is the filter, access readwrite
		// (mosquitto does the same, so "topic read" is the topic "read").
		filter = word
	} else {
		switch word {
		case "read":
			r.access = Read
		case "write":
			r.access = Write
		case "readwrite":
			r.access = Read | Write
		case "deny":
			r.access = 0
		default:
			return r, fmt.Errorf("invalid access type %q (want read, write, readwrite or deny)", word)
		}
	}
	r.filter = filter
	check := filter
	if kw == "pattern" {
		levels := strings.Split(filter, "/")
		for i, l := range levels {
			switch {
			case l == "%c":
				r.usesC = true
				levels[i] = "x"
			case l == "%u":
				r.usesU = true
				levels[i] = "x"
			case strings.Contains(l, "%c") || strings.Contains(l, "%u"):
				return r, fmt.Errorf("pattern %q: %%c and %%u must be a whole topic level", filter)
			}
		}
		check = strings.Join(levels, "/")
	}
	if !validFilter(check) {
		return r, fmt.Errorf("invalid topic filter %q", filter)
	}
	return r, nil
}

// Warnings returns non-fatal remarks found while parsing (mosquitto logs
// the same ones), each prefixed with file:line.
func (a *ACL) Warnings() []string { return append([]string(nil), a.warnings...) }

// Allowed reports whether a client may access topic.
//
// username/hasUsername is the CONNECT username (hasUsername false for an
// anonymous client; an empty username is still a username) and clientID
// the client identifier in use (the assigned one for an empty id). For
// Read and Write, topic is a topic name; for Subscribe it is the topic
// filter without any "$share/GROUP/" prefix. A topic that is not a valid
// name (resp. filter) is never allowed. If acc has several bits, each
// must be allowed.
//
// Rules that apply to the client: the anonymous block (no username) or
// the block of its username (none for a user not in the file), plus every
// pattern, with %c and %u substituted. A pattern using %u never applies to
// an anonymous client.
//
// Decision, for Read and Write:
//  1. If any applicable deny rule matches the topic: denied.
//  2. If any applicable rule granting acc matches the topic: allowed.
//  3. Otherwise denied.
//
// For Subscribe the filter F (its wildcards taken as wildcards) is
// refused only when it could never deliver anything; what it may deliver
// is then filtered by Read at delivery, topic by topic:
//  1. If an applicable deny rule covers F (every topic F matches, that
//     rule matches too): denied.
//  2. If an applicable read or readwrite rule can match a topic F
//     matches (the two filters intersect): allowed.
//  3. Otherwise denied.
//
// So with "topic deny test/nosubscribe" and "topic readwrite #" (the
// Eclipse Paho test suite's ACL) the filters #, +/+ and test/# are
// allowed and test/nosubscribe is refused; "deny secret/#" refuses
// secret/x/# but not #; "topic read a/#" allows a/+ and a/b/# but not
// b/#; "topic read a/b" allows + and # (which deliver a/b only). Both
// steps respect the '$' rule ([MQTT-4.7.2-1]): "#" neither intersects
// nor covers $SYS/x. mosquitto 2.0 never refuses a SUBSCRIBE and filters
// at delivery the same way, so it delivers exactly what we do; refusing
// what can deliver nothing tells the client at once (SUBACK 0x80/0x87).
//
// Differences from mosquitto 2.0, all stricter: mosquitto checks the
// client's own rules (denies first) before the patterns, so a user's
// grant beats a pattern deny; here every deny wins. Pattern grants are
// skipped (as in mosquitto) when the client id or username contains '+'
// or '#', and also when a value a pattern substitutes contains '/' or is
// empty, because %c and %u stand for exactly one topic level.
func (a *ACL) Allowed(username string, hasUsername bool, clientID, topic string, acc Access) bool {
	if acc <= 0 || acc&^(Read|Write|Subscribe) != 0 {
		return false
	}
	for _, bit := range []Access{Read, Write, Subscribe} {
		if acc&bit != 0 && !a.allowedOne(username, hasUsername, clientID, topic, bit) {
			return false
		}
	}
	return true
}

func (a *ACL) allowedOne(username string, hasUsername bool, clientID, topic string, acc Access) bool {
	sub := acc == Subscribe
	if sub && !validFilter(topic) || !sub && !validTopic(topic) {
		return false
	}
	block := &a.anon
	if hasUsername {
		block = a.users[username] // nil for a user without a block
	}
	var own aclBlock
	if block != nil {
		own = *block
	}
	id := identity{username: username, hasUsername: hasUsername, clientID: clientID}

	// 1. Deny rules, the client's own and the patterns.
	for _, r := range own.deny {
		if ruleHits(r.filter, topic, sub) {
			return false
		}
	}
	for _, r := range a.patterns.deny {
		if f, ok := id.substitute(r, false); ok && ruleHits(f, topic, sub) {
			return false
		}
	}
	// 2. Grants. Subscribe is granted by read rules.
	need := acc
	if sub {
		need = Read
	}
	for _, r := range own.grant {
		if r.access&need != 0 && ruleGrants(r.filter, topic, sub) {
			return true
		}
	}
	for _, r := range a.patterns.grant {
		if r.access&need == 0 {
			continue
		}
		if f, ok := id.substitute(r, true); ok && ruleGrants(f, topic, sub) {
			return true
		}
	}
	return false
}

// ruleHits (deny rules): for a topic, the rule matches it; for a
// subscription filter, the rule matches every topic the filter matches.
func ruleHits(rule, topic string, sub bool) bool {
	if sub {
		return covers(rule, topic)
	}
	return matchTopic(rule, topic)
}

// ruleGrants (read, write, readwrite rules): for a topic, the rule
// matches it; for a subscription filter, the rule can match some topic
// the filter matches.
func ruleGrants(rule, topic string, sub bool) bool {
	if sub {
		return intersects(rule, topic)
	}
	return matchTopic(rule, topic)
}

type identity struct {
	username    string
	hasUsername bool
	clientID    string
}

// substitute expands a pattern's %c and %u levels. ok is false when the
// pattern does not apply: %u for an anonymous client, or (for grants,
// strict) when the identity could escape its level.
func (id identity) substitute(r aclRule, strict bool) (string, bool) {
	if r.usesU && !id.hasUsername {
		return "", false
	}
	if strict {
		// mosquitto 2.0: with pattern ACLs, a client whose username or
		// client id contains '+' or '#' gets no pattern access at all.
		if strings.ContainsAny(id.clientID, "+#") || (id.hasUsername && strings.ContainsAny(id.username, "+#")) {
			return "", false
		}
		if r.usesC && !singleLevel(id.clientID) || r.usesU && !singleLevel(id.username) {
			return "", false
		}
	}
	if !r.usesC && !r.usesU {
		return r.filter, true
	}
	levels := strings.Split(r.filter, "/")
	for i, l := range levels {
		switch l {
		case "%c":
			levels[i] = id.clientID
		case "%u":
			levels[i] = id.username
		}
	}
	return strings.Join(levels, "/"), true
}

func singleLevel(v string) bool { return v != "" && !strings.ContainsAny(v, "/+#") }
