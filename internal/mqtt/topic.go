package mqtt

import "strings"

// Topic names and filters (MQTT 5.0 section 4.7, 3.1.1 section 4.7).

// ValidTopicName checks a topic name a message is published to. Errors
// wrap ErrInvalidTopicName (reason code 0x90, Topic Name invalid).
//
// Rule numbers are given as 3.1.1 / 5.0 where they differ.
func ValidTopicName(t string) error {
	// All Topic Names and Topic Filters MUST be at least one character long
	// [MQTT-4.7.3-1].
	if t == "" {
		return Errorf(ErrInvalidTopicName, "empty topic")
	}
	// They are UTF-8 Encoded Strings without U+0000 [MQTT-4.7.3-2] and at
	// most 65,535 bytes [MQTT-4.7.3-3].
	if !ValidUTF8(t) {
		return Errorf(ErrInvalidTopicName, "topic is not valid UTF-8, contains U+0000 or is longer than 65535 bytes")
	}
	// Wildcards MUST NOT be used within a Topic Name
	// [MQTT-4.7.1-1] / [MQTT-4.7.0-1].
	if strings.ContainsAny(t, "+#") {
		return Errorf(ErrInvalidTopicName, "wildcard in topic name %q", t)
	}
	return nil
}

// ValidTopicFilter checks a topic filter of SUBSCRIBE or UNSUBSCRIBE.
// A filter starting with "$share/" must also be a well-formed shared
// subscription (see ParseShared). Errors wrap ErrInvalidTopicFilter
// (reason code 0x8F, Topic Filter invalid).
func ValidTopicFilter(f string) error {
	if strings.HasPrefix(f, SharePrefix) {
		_, _, _, err := ParseShared(f)
		return err
	}
	return validFilterSyntax(f)
}

// validFilterSyntax checks the wildcard rules of a plain (not shared)
// topic filter. Rule numbers are given as 3.1.1 / 5.0 where they differ.
func validFilterSyntax(f string) error {
	if f == "" {
		return Errorf(ErrInvalidTopicFilter, "empty filter") // [MQTT-4.7.3-1]
	}
	if !ValidUTF8(f) {
		// [MQTT-4.7.3-2], [MQTT-4.7.3-3]
		return Errorf(ErrInvalidTopicFilter, "filter is not valid UTF-8, contains U+0000 or is longer than 65535 bytes")
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '#':
			// The multi-level wildcard MUST be specified either on its own
			// or following a topic level separator, and MUST be the last
			// character [MQTT-4.7.1-2] / [MQTT-4.7.1-1].
			if i != len(f)-1 || (i > 0 && f[i-1] != '/') {
				return Errorf(ErrInvalidTopicFilter, "'#' not alone at the end of %q", f)
			}
		case '+':
			// The single-level wildcard MUST occupy an entire level
			// [MQTT-4.7.1-3] / [MQTT-4.7.1-2].
			if (i > 0 && f[i-1] != '/') || (i < len(f)-1 && f[i+1] != '/') {
				return Errorf(ErrInvalidTopicFilter, "'+' not alone in its level of %q", f)
			}
		}
	}
	return nil
}

// SharePrefix starts a shared subscription filter: $share/{group}/{filter}.
const SharePrefix = "$share/"

// ParseShared splits a shared subscription filter "$share/{group}/{filter}"
// (MQTT 5.0 section 4.8.2). For an ordinary filter it returns ok == false,
// inner == filter and no error. For a shared one the ShareName must be at
// least one character long [MQTT-4.8.2-1], must not contain '/', '+' or
// '#', and must be followed by '/' and a valid topic filter
// [MQTT-4.8.2-2]. Errors wrap ErrInvalidTopicFilter and come with ok ==
// true so the caller knows a shared subscription was meant.
func ParseShared(filter string) (group, inner string, ok bool, err error) {
	if !strings.HasPrefix(filter, SharePrefix) {
		return "", filter, false, nil
	}
	rest := filter[len(SharePrefix):]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", true, Errorf(ErrInvalidTopicFilter, "shared subscription %q has no filter", filter)
	}
	group, inner = rest[:i], rest[i+1:]
	if group == "" || strings.ContainsAny(group, "+#") {
		return "", "", true, Errorf(ErrInvalidTopicFilter, "invalid share name in %q", filter)
	}
	if err := validFilterSyntax(inner); err != nil {
		return "", "", true, err
	}
	return group, inner, true, nil
}

// MatchTopic reports whether topic name t matches filter f. It is the
// simple, obviously correct reference matcher the broker's trie is fuzzed
// against; it is not meant for the hot path (it allocates).
//
// f must be a plain filter: pass the inner filter of a shared
// subscription (see ParseShared). '+' matches exactly one level, possibly
// empty ("a/+" matches "a/"); '#' matches the parent level and any number
// of child levels ("sport/#" matches "sport"); a filter starting with a
// wildcard does not match a topic starting with '$' [MQTT-4.7.2-1].
func MatchTopic(f, t string) bool {
	// Filters starting with a wildcard do not match topics starting with
	// '$' [MQTT-4.7.2-1].
	if len(t) > 0 && t[0] == '$' && len(f) > 0 && (f[0] == '+' || f[0] == '#') {
		return false
	}
	return matchLevels(strings.Split(f, "/"), strings.Split(t, "/"))
}

func matchLevels(f, t []string) bool {
	if len(f) == 0 {
		return len(t) == 0
	}
	if f[0] == "#" {
		return true // '#' also matches the parent level: "a/#" matches "a"
	}
	if len(t) == 0 {
		return false
	}
	if f[0] != "+" && f[0] != t[0] {
		return false
	}
	return matchLevels(f[1:], t[1:])
}
