package broker

import "github.com/mqkit/mqkit/internal/mqtt"

// handleAck handles PUBACK, PUBREC and PUBCOMP for messages we sent, and
// PUBREL for QoS 2 messages we received.
func (c *conn) handleAck(p *mqtt.Ack) error {
	s := c.sess
	c.traceAck(false, p.Kind, p.PacketID, p.Code)
	if c.b.cfg.Verbose {
		c.logv("Received %s from %s (Mid: %d, RC:%d)", p.Kind, c.clientID(), p.PacketID, p.Code)
	}
	if p.Kind == mqtt.PUBREL {
		s.mu.Lock()
		var ok bool
		if o := s.out; o != nil { // nil: no id held
			_, ok = o.inbound[p.PacketID]
		}
		if ok {
			delete(s.out.inbound, p.PacketID)
			s.persist("delete inbound", func(st Store) error { return st.DeleteInbound(s.clientID, p.PacketID) })
		}
		s.mu.Unlock()
		code := mqtt.Success
		if !ok && c.version == mqtt.V5 {
			code = mqtt.PacketIdentifierNotFound
		}
		// [MQTT-4.3.3-11] respond to PUBREL with PUBCOMP.
		c.traceAck(true, mqtt.PUBCOMP, p.PacketID, code)
		c.enqueueAck(mqtt.PUBCOMP, p.PacketID, code, c)
		return nil
	}
	s.mu.Lock()
	res := s.ack(p.Kind, p.PacketID, p.Code, c)
	s.mu.Unlock()
	switch {
	case res == ackWrongKind:
		return protocolErr(mqtt.ProtocolError, "%s for packet id %d does not fit its QoS flow", p.Kind, p.PacketID)
	case res == ackUnknown && p.Kind == mqtt.PUBREC:
		// Unknown id: release it anyway so the client can finish its flow
		// (v5: 0x92 Packet Identifier not found), as mosquitto does.
		code := mqtt.Success
		if c.version == mqtt.V5 {
			code = mqtt.PacketIdentifierNotFound
		}
		c.traceAck(true, mqtt.PUBREL, p.PacketID, code)
		c.enqueueAck(mqtt.PUBREL, p.PacketID, code, c)
	}
	// An unknown PUBACK or PUBCOMP (e.g. a repeat) is ignored.
	return nil
}
