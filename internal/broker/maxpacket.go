package broker

import "github.com/mqkit/mqkit/internal/mqtt"

// The client's Maximum Packet Size (v5 CONNECT property, c.maxOut): "The
// Server MUST NOT send packets exceeding Maximum Packet Size to the
// Client" [MQTT-3.1.2-24]. PUBLISH packets that are too large are
// discarded as if sent [MQTT-3.1.2-25] (fits, conn_write.go); this file
// handles the other packets.
//
// A control packet too large is first shrunk by what the specification
// lets a sender leave out for this very reason: the Reason String and
// User Properties ([MQTT-3.2.2-19] [MQTT-3.2.2-20] for CONNACK, and the
// same rule for every packet that has them, e.g. [MQTT-3.14.2-3]
// [MQTT-3.14.2-4] for DISCONNECT, [MQTT-3.9.2-1] [MQTT-3.9.2-2] for
// SUBACK). A CONNACK also drops the capability properties whose absence
// means the same thing (Retain / Wildcard Subscription / Subscription
// Identifier / Shared Subscription Available = 1). What still does not
// fit is not sent: a CONNACK that cannot fit ends the connection without
// an answer (mosquitto does the same for tiny sizes, but sends an 11-byte
// CONNACK to a client whose maximum is 10: it checks the remaining length
// only), any other packet ends it with DISCONNECT 0x95 Packet too large
// if that fits.

// connackFits shrinks ack, if needed, to the client's Maximum Packet
// Size and reports whether it fits. Reader only (during CONNECT).
func (c *conn) connackFits(ack *mqtt.Connack) bool {
	if c.maxOut == 0 {
		return true
	}
	max := int(c.maxOut)
	if mqtt.Size(ack, mqtt.V5) <= max {
		return true
	}
	dropProblemInfo(&ack.Props)
	pr := &ack.Props
	for _, id := range []mqtt.PropID{mqtt.PropRetainAvailable, mqtt.PropWildcardSubAvailable,
		mqtt.PropSubIDAvailable, mqtt.PropSharedSubAvailable} {
		if mqtt.Size(ack, mqtt.V5) <= max {
			return true
		}
		if availableByDefault(pr, id) {
			pr.Unmark(id)
		}
	}
	return mqtt.Size(ack, mqtt.V5) <= max
}

// availableByDefault reports whether capability property id is present
// with the value its absence stands for (1, "available").
func availableByDefault(pr *mqtt.Properties, id mqtt.PropID) bool {
	if !pr.Has(id) {
		return false
	}
	switch id {
	case mqtt.PropRetainAvailable:
		return pr.RetainAvailable == 1
	case mqtt.PropWildcardSubAvailable:
		return pr.WildcardSubAvailable == 1
	case mqtt.PropSubIDAvailable:
		return pr.SubIDAvailable == 1
	case mqtt.PropSharedSubAvailable:
		return pr.SharedSubAvailable == 1
	}
	return false
}

// dropProblemInfo removes the Reason String and User Properties.
func dropProblemInfo(pr *mqtt.Properties) {
	pr.Unmark(mqtt.PropReasonString)
	pr.Unmark(mqtt.PropUserProperty)
}

// packetFits shrinks a control packet about to be written to the client's
// Maximum Packet Size and reports whether it may be sent. When it cannot,
// the connection is closed (v5: DISCONNECT 0x95, itself shrunk or not
// sent). Writer only; p is owned by the queue item.
func (c *conn) packetFits(p mqtt.Packet, v mqtt.Version) bool {
	if c.maxOut == 0 || v != mqtt.V5 {
		return true
	}
	max := int(c.maxOut)
	if mqtt.Size(p, v) <= max {
		return true
	}
	switch p := p.(type) {
	case *mqtt.Connack:
		if c.connackFits(p) {
			return true
		}
	case *mqtt.Disconnect:
		dropProblemInfo(&p.Props)
	case *mqtt.Suback:
		dropProblemInfo(&p.Props)
	case *mqtt.Unsuback:
		dropProblemInfo(&p.Props)
	case *mqtt.Ack:
		dropProblemInfo(&p.Props)
	case *mqtt.Auth:
		dropProblemInfo(&p.Props)
	}
	if mqtt.Size(p, v) <= max {
		return true
	}
	if p.Type() != mqtt.DISCONNECT && p.Type() != mqtt.CONNACK {
		c.b.cfg.Logger.Warn("Packet larger than the client's Maximum Packet Size not sent; closing",
			"client", c.clientID(), "packet", p.Type().String(), "size", mqtt.Size(p, v), "maximum", max)
		c.close(CloseProtocolError, mqtt.PacketTooLarge)
	}
	return false
}
