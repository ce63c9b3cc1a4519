package broker

import "strings"

// reservedDollar reports whether a client may not publish to topic
// because it is one of the broker's own: mosquitto 2.0 refuses (as an ACL
// denial) every PUBLISH from a client to a topic starting with "$SYS",
// except "$SYS/broker/connection/+/state" (bridge state notifications),
// and to a topic starting with "$share", which only names shared
// subscriptions (MQTT 5.0 section 4.8.2). The prefixes are compared as mosquitto does, as strings: "$SYSX"
// and "$shared/x" are refused too. Other '$' topics are left to the ACL.
// MQTT allows both: "Applications cannot use a topic with a leading $
// character for their own purposes" (4.7.2, non-normative). The broker's
// own bridges are not checked (Broker.ServeBridgeConn), as in mosquitto.
func reservedDollar(topic string) bool {
	if len(topic) == 0 || topic[0] != '$' {
		return false
	}
	switch {
	case strings.HasPrefix(topic, "$SYS"):
		return !isBridgeState(topic)
	case strings.HasPrefix(topic, "$share"):
		return true
	}
	return false
}

// isBridgeState reports whether topic matches
// "$SYS/broker/connection/+/state".
func isBridgeState(topic string) bool {
	rest, ok := strings.CutPrefix(topic, "$SYS/broker/connection/")
	if !ok {
		return false
	}
	name, ok := strings.CutSuffix(rest, "/state")
	return ok && !strings.Contains(name, "/")
}
