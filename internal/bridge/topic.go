package bridge

import (
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// The remapping follows mosquitto 2.0 exactly: the first topic line of
// the right direction that has a prefix and whose filter matches decides;
// its prefix on the source side is removed if the topic starts with it,
// and the other side's prefix is prepended. A topic no such line matches
// is forwarded as is.

// toRemote maps a local topic for the remote broker (direction out).
func toRemote(topics []Topic, topic string) string {
	for _, t := range topics {
		if t.Out && t.remapped() && mqtt.MatchTopic(t.LocalTopic(), topic) {
			return t.RemotePrefix + strings.TrimPrefix(topic, t.LocalPrefix)
		}
	}
	return topic
}

// toLocal maps a remote topic for this broker (direction in).
func toLocal(topics []Topic, topic string) string {
	for _, t := range topics {
		if t.In && t.remapped() && mqtt.MatchTopic(t.RemoteTopic(), topic) {
			return t.LocalPrefix + strings.TrimPrefix(topic, t.RemotePrefix)
		}
	}
	return topic
}
