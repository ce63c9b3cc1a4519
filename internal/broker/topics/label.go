package topics

import "strings"

// Path compression. A chain of nodes that only lead to one another
// (no subscription or value on the way, one child each) is stored as one
// node whose label holds all their levels, joined by '/': "a/b/c" below
// the root is one node, not three. So a topic or filter costs one node
// per branching point plus its own bytes, however many levels it has: a
// 200-level filter "a/a/.../a" (400 bytes) costs one node and a 400-byte
// label, where one node and one map per level cost about 60 KB.
//
// A label is a non-empty list of levels (a level may be empty, so "" is
// one empty level and "a/" is "a" followed by an empty level). A parent
// finds a child by the child's first level (the map key, a substring of
// the child's label). Labels hold literal levels only: the wildcards '+'
// and '#' of the subscription trie have nodes of their own.
//
// Labels are copied (strings.Clone) when stored: the strings the broker
// passes in may share memory with a whole packet (the codec decodes
// strings without copying), which a label must not keep alive.
//
// A remaining topic, filter or label is a string of at least one level
// plus, where it may also be empty of levels, a "more" flag, as cut
// returns them.

// cut splits the first level off s.
func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// firstLevel returns the first level of s.
func firstLevel(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

// consume matches label against the first levels of rest (at least one
// level). It reports whether rest starts with all of label's levels and
// returns what follows: more is false when nothing does.
func consume(label, rest string) (next string, more, ok bool) {
	switch {
	case len(rest) == len(label):
		return "", false, rest == label
	case len(rest) > len(label) && rest[len(label)] == '/' && rest[:len(label)] == label:
		return rest[len(label)+1:], true, true
	}
	return "", false, false
}

// commonLevels returns the length in bytes of the longest run of whole
// levels at the start of label that rest starts with too (as whole
// levels). label and rest must share their first level; the result is
// then at least its length. label[:n] is those levels, and n ==
// len(label) or label[n] == '/'.
func commonLevels(label, rest string) int {
	p := 0
	for {
		lv := firstLevel(label[p:])
		end := p + len(lv)
		if end > len(rest) || rest[p:end] != lv || (end < len(rest) && rest[end] != '/') {
			return max(p-1, 0) // the levels before this one
		}
		if end == len(label) || end == len(rest) {
			return end
		}
		p = end + 1
	}
}

// literalRun returns the longest run of literal levels (no '+' or '#'
// level) at the start of rest, which must start with a literal level, and
// what follows it (more is false when nothing does).
func literalRun(rest string) (run, next string, more bool) {
	p := 0
	for {
		lv := firstLevel(rest[p:])
		if lv == "+" || lv == "#" {
			return rest[:p-1], rest[p:], true
		}
		end := p + len(lv)
		if end == len(rest) {
			return rest, "", false
		}
		p = end + 1
	}
}
