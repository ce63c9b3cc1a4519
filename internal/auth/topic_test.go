package auth

import (
	"strings"
	"testing"
)

func TestValidFilter(t *testing.T) {
	tests := []struct {
		f    string
		want bool
	}{
		{"a", true}, {"a/b", true}, {"/", true}, {"a//b", true},
		{"+", true}, {"#", true}, {"a/+", true}, {"+/+/#", true}, {"$SYS/#", true},
		{"", false}, {"a+", false}, {"a/b+", false}, {"+a", false},
		{"a#", false}, {"#/a", false}, {"a/#/b", false}, {"a\x00b", false}, {"\xff", false},
	}
	for _, tc := range tests {
		if got := validFilter(tc.f); got != tc.want {
			t.Errorf("validFilter(%q) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true}, // '+' matches an empty level
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true}, // '#' matches the parent [MQTT-4.7.1-2]
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "/", true},
		{"+/+", "/", true},
		{"#", "$SYS/x", false}, // [MQTT-4.7.2-1]
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"$SYS/+", "$SYS/x", true},
		{"a/b", "a/b/c", false},
	}
	for _, tc := range tests {
		if got := matchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestCoversAndIntersects(t *testing.T) {
	tests := []struct {
		a, b               string
		covers, intersects bool
	}{
		{"a/#", "a/b", true, true},
		{"a/#", "a/+", true, true},
		{"a/#", "a/#", true, true},
		{"a/#", "a", true, true},
		{"a/+", "a/#", false, true},
		{"a/+", "a/b", true, true},
		{"a/b", "a/+", false, true},
		{"a/b", "a/c", false, false},
		{"#", "a/#", true, true},
		{"#", "#", true, true},
		{"+/#", "#", true, true}, // equal on valid topics
		{"#", "$SYS/#", false, false},
		{"+/#", "$SYS/x", false, false},
		{"$SYS/#", "$SYS/broker/x", true, true},
		{"$SYS/#", "#", false, false},
		{"a/+/c", "a/b/+", false, true},
		{"a/+/c", "x/#", false, false},
		{"a", "a/#", false, true},
		{"a/+", "a", false, false},
		{"+", "+", true, true},
		{"+", "$x", false, false},
	}
	for _, tc := range tests {
		if got := covers(tc.a, tc.b); got != tc.covers {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.covers)
		}
		if got := intersects(tc.a, tc.b); got != tc.intersects {
			t.Errorf("intersects(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.intersects)
		}
		if got := intersects(tc.b, tc.a); got != tc.intersects {
			t.Errorf("intersects(%q, %q) = %v, want %v (symmetry)", tc.b, tc.a, got, tc.intersects)
		}
	}
}

// TestCoversIntersectsExhaustive checks covers and intersects against their
// definitions over every filter of up to 3 levels drawn from {a, $x, +, #}
// and every topic of up to 4 levels drawn from {a, $x, z, ""}. "z" appears
// in no filter, so it stands for "any other value" a wildcard can take, and
// topics one level longer than any filter expose what '#' adds.
func TestCoversIntersectsExhaustive(t *testing.T) {
	filters := combos([]string{"a", "$x", "+", "#"}, 3)
	var valid []string
	for _, f := range filters {
		if validFilter(f) {
			valid = append(valid, f)
		}
	}
	topics := combos([]string{"a", "$x", "z", ""}, 4)
	matches := make(map[string][]bool, len(valid))
	for _, f := range valid {
		m := make([]bool, len(topics))
		for i, tp := range topics {
			m[i] = matchTopic(f, tp)
		}
		matches[f] = m
	}
	for _, a := range valid {
		for _, b := range valid {
			wantCover, wantInter := true, false
			for i := range topics {
				if matches[b][i] && !matches[a][i] {
					wantCover = false
				}
				if matches[a][i] && matches[b][i] {
					wantInter = true
				}
			}
			if got := covers(a, b); got != wantCover {
				t.Errorf("covers(%q, %q) = %v, want %v", a, b, got, wantCover)
			}
			if got := intersects(a, b); got != wantInter {
				t.Errorf("intersects(%q, %q) = %v, want %v", a, b, got, wantInter)
			}
		}
	}
}

// combos returns every '/'-joined sequence of 1..max levels from alphabet.
func combos(alphabet []string, max int) []string {
	var out []string
	cur := []string{""}
	for n := 1; n <= max; n++ {
		var next []string
		for _, prefix := range cur {
			for _, l := range alphabet {
				s := l
				if n > 1 {
					s = prefix + "/" + l
				}
				next = append(next, s)
			}
		}
		out = append(out, next...)
		cur = next
	}
	// The single empty level "" is not a valid topic name.
	res := out[:0]
	for _, s := range out {
		if s != "" && !strings.Contains(s, "\x00") {
			res = append(res, s)
		}
	}
	return res
}
