package broker_test

import (
	"testing"
)

// Topic filters that break the wildcard rules, and empty ones, in
// SUBSCRIBE and UNSUBSCRIBE, against mqbroker and mosquitto.
//
// "The multi-level wildcard character MUST be specified either on its own
// or following a topic level separator. In either case it MUST be the
// last character specified in the Topic Filter" (3.1.1 [MQTT-4.7.1-2],
// 5.0 [MQTT-4.7.1-1]); "the single-level wildcard ... MUST occupy an
// entire level of the filter" (3.1.1 [MQTT-4.7.1-3], 5.0 [MQTT-4.7.1-2]);
// "All Topic Names and Topic Filters MUST be at least one character long"
// [MQTT-4.7.3-1]. Such a packet breaks a MUST of the protocol, so the
// connection is closed (3.1.1 [MQTT-4.8.0-1]; 5.0 section 4.13: a
// Malformed Packet, DISCONNECT 0x81 first). The v5 reason 0x8F Topic
// Filter invalid is for a filter that "is correctly formed" but not
// allowed, so it is not the answer here. mosquitto 2.0.11 does the same
// ("Invalid subscription string from ..., disconnecting.").

const tUNSUBSCRIBE = 0xA2

func unsubscribeV311(pid int, filter string) []byte {
	return pkt(tUNSUBSCRIBE, u16(pid), str(filter))
}

func unsubscribeV5(pid int, filter string) []byte {
	return pkt(tUNSUBSCRIBE, u16(pid), props(), str(filter))
}

// badFilters break [MQTT-4.7.1-*] or [MQTT-4.7.3-1].
var badFilters = []string{"a/#/b", "a+", "#x", "a/b#", "+a/b", "a/+b/c", "##", ""}

func TestPeerMalformedFilter(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		for _, v := range wireVersions {
			for _, op := range []string{"subscribe", "unsubscribe"} {
				for _, f := range badFilters {
					t.Run(v.name+"/"+op+"/"+f, func(t *testing.T) {
						w := dialWire(t, s)
						w.connect(v.connect("badf", true), false, 0)
						// A valid subscription first: the bad packet must
						// not be answered as if it were one.
						w.send(v.sub(1, "ok/filter", 0))
						w.expectType("SUBACK", tSUBACK)
						var p []byte
						switch {
						case op == "subscribe":
							p = v.sub(2, f, 0)
						case v.v5:
							p = unsubscribeV5(2, f)
						default:
							p = unsubscribeV311(2, f)
						}
						w.send(p)
						got, _ := w.closed(peerTimeout)
						if v.v5 {
							// A DISCONNECT 0x81 may come first; nothing else.
							if len(got) > 1 || len(got) == 1 && !isDisconnect(got[0], 0x81) {
								t.Errorf("before the close: % x, want nothing or DISCONNECT 0x81 Malformed Packet", got)
							}
						} else if len(got) != 0 {
							t.Errorf("before the close: % x, want nothing (no SUBACK/UNSUBACK for a malformed filter)", got)
						}
					})
				}
			}
		}
	})
}
