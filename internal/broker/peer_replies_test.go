package broker_test

import "testing"

// TestPeerRepliesAtOnce (issue 11 item 10): every complete packet is
// answered at once, whatever follows it in the same write. A PINGREQ
// followed by the first byte of another packet gets its PINGRESP without
// waiting for the rest, and so does a QoS 1 PUBLISH its PUBACK (MQTT
// 3.1.1 section 3.12.4 [MQTT-3.12.4-1], section 4.3.2; nothing lets a
// server hold a reply back until unrelated input completes). Against both
// brokers; mosquitto 2.0.11 answers at once. TestRepliesAtOnceNoLoop
// checks mqbroker's other input path.
func TestPeerRepliesAtOnce(t *testing.T) {
	eachServer(t, anonConf, func(t *testing.T, s *server) {
		repliesAtOnce(t, dialWire(t, s))
	})
}

func repliesAtOnce(t *testing.T, w *wire) {
	w.send(connectV311("replies-at-once", true, 60))
	w.expect("CONNACK", []byte{tCONNACK, 2, 0, 0})
	w.send([]byte{tPINGREQ, 0, tPINGREQ}) // PINGREQ, and a PINGREQ's first byte
	w.expect("PINGRESP to the complete PINGREQ", []byte{tPINGRESP, 0})
	w.send([]byte{0})
	w.expect("PINGRESP to the second PINGREQ", []byte{tPINGRESP, 0})
	w.send(publishV311("replies/at/once", 1, false, 7, "x"), []byte{tPINGREQ})
	w.expect("PUBACK to the complete PUBLISH", ack(tPUBACK, 7))
	w.send([]byte{0})
	w.expect("PINGRESP after the PUBACK", []byte{tPINGRESP, 0})
}
