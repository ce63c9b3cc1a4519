package auth

import (
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// This file holds the small topic-filter algebra the ACL needs. Matching a
// topic name is internal/mqtt's reference matcher; the ACL also needs
// "does filter A cover filter B" and "can filters A and B match a common
// topic", which live here, unexported.
//
// Semantics follow MQTT 3.1.1 §4.7 / MQTT 5.0 §4.7:
//   - '/' separates levels; empty levels are legal ([MQTT-4.7.1-1..3]).
//   - '+' matches exactly one level, including an empty one.
//   - '#' matches the parent level and any number of child levels; it must
//     be the last level ([MQTT-4.7.1-2]).
//   - A filter starting with a wildcard never matches a topic starting
//     with '$' ([MQTT-4.7.2-1]).

// validFilter reports whether f is a syntactically valid topic filter
// ([MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.3-1], [MQTT-4.7.3-2]).
func validFilter(f string) bool {
	if f == "" || !mqtt.ValidUTF8(f) {
		return false
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '+':
			if (i > 0 && f[i-1] != '/') || (i+1 < len(f) && f[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && f[i-1] != '/') || i != len(f)-1 {
				return false
			}
		}
	}
	return true
}

// validTopic reports whether t is a valid topic name: non-empty, UTF-8,
// no NUL, no wildcard characters ([MQTT-3.3.2-2], [MQTT-4.7.3-1]).
func validTopic(t string) bool { return mqtt.ValidTopicName(t) == nil }

func isWild(level string) bool { return level == "+" || level == "#" }

// dollarMismatch reports whether the $-rule makes filter a unable to match
// anything filter (or topic) b matches: a's first level is a wildcard and
// b's first level is a literal starting with '$' ([MQTT-4.7.2-1]).
func dollarMismatch(a, b []string) bool {
	return isWild(a[0]) && !isWild(b[0]) && strings.HasPrefix(b[0], "$")
}

// matchTopic reports whether filter matches topic name ('+' one level,
// '#' the parent and any children, no wildcard match of '$' topics).
func matchTopic(filter, topic string) bool { return mqtt.MatchTopic(filter, topic) }

// normalize rewrites a leading "#" as "+/#". The two are equivalent on
// valid topic names (a topic name has at least one level and "#" and
// "+/#" both exclude '$' topics), and the rewrite lets the level-wise
// algorithms below be exact.
func normalize(levels []string) []string {
	if len(levels) == 1 && levels[0] == "#" {
		return []string{"+", "#"}
	}
	return levels
}

// covers reports whether every topic name matched by filter b is also
// matched by filter a. Both must be valid filters. The check is exact:
// a wildcard level in b stands for infinitely many concrete levels, so a
// can only cover it with the same or a broader wildcard.
func covers(a, b string) bool {
	al, bl := strings.Split(a, "/"), normalize(strings.Split(b, "/"))
	if dollarMismatch(al, bl) {
		return false
	}
	for i := 0; ; i++ {
		if i < len(al) && al[i] == "#" {
			return true // covers b's remaining levels, including none
		}
		if i == len(al) || i == len(bl) {
			// b's topics end here (or continue): a must end here too.
			return i == len(al) && i == len(bl)
		}
		switch {
		case bl[i] == "#":
			return false // b matches deeper topics; a (no '#' here) cannot
		case bl[i] == "+":
			if al[i] != "+" {
				return false
			}
		default:
			if al[i] != "+" && al[i] != bl[i] {
				return false
			}
		}
	}
}

// intersects reports whether some valid topic name is matched by both
// filters a and b.
func intersects(a, b string) bool {
	al, bl := normalize(strings.Split(a, "/")), normalize(strings.Split(b, "/"))
	if dollarMismatch(al, bl) || dollarMismatch(bl, al) {
		return false
	}
	for i := 0; ; i++ {
		if (i < len(al) && al[i] == "#") || (i < len(bl) && bl[i] == "#") {
			return true
		}
		if i == len(al) || i == len(bl) {
			return len(al) == len(bl)
		}
		if al[i] != "+" && bl[i] != "+" && al[i] != bl[i] {
			return false
		}
	}
}
