// Package selftest is a pass/fail conformance check of an MQTT broker,
// run by `mqbroker selftest`.
//
// A Runner connects to one broker (any broker, not only ours) and runs a
// fixed list of checks one after the other: connecting with 3.1, 3.1.1
// and 5.0, QoS 0/1/2 round trips, QoS downgrade, retained messages,
// wills, persistent sessions, the MQTT 5.0 features a broker must
// implement (message expiry, topic aliases, subscription options,
// subscription identifiers, shared subscriptions, property forwarding,
// Receive Maximum), wildcards, $SYS isolation, ACL subscribe semantics
// (only when Config.ACL says the broker has ACLRules) and the WebSocket
// transport. Each check
//
//   - uses its own connections (a few at most), client identifiers
//     "mqst<run><check><role>" (at most 23 characters, so that 3.1 brokers
//     accept them) and topics under "mqkit-selftest/<run>/<check>";
//   - has its own deadline (Config.Timeout, 5 s by default; the message
//     expiry check adds the 2 s it must wait);
//   - removes the retained messages and persistent sessions it created,
//     whatever its result.
//
// A check fails when the broker does something the specification forbids
// or does not do, within the deadline, what it must; it is skipped when
// the broker announced in its 5.0 CONNACK that the feature is unavailable
// (Maximum QoS, Retain Available, Wildcard / Subscription Identifier /
// Shared Subscription Available, Topic Alias Maximum 0), or when the
// broker refuses MQTT 5.0 altogether.
//
// Checks that something does NOT happen (no will after a normal
// DISCONNECT, no more in-flight messages than the Receive Maximum) cannot
// wait for an event: they use a barrier (a later message on the same
// connection, a SUBSCRIBE round trip) and then a short quiet period. A
// slow broker can therefore make them pass wrongly, never fail wrongly.
package selftest
