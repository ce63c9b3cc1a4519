package mqtt

// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (5.0 sections 3.8-3.11).
// Topic filter syntax is not judged here: a server answers a bad filter
// with a failure code in SUBACK/UNSUBACK for that filter alone, so the
// broker checks each with ValidTopicFilter.

func (p *Subscribe) check(v Version) error {
	if p.PacketID == 0 {
		return ErrZeroPacketID
	}
	if len(p.Subscriptions) == 0 {
		return ErrNoTopicFilters // [MQTT-3.8.3-3]
	}
	for _, s := range p.Subscriptions {
		if err := checkStr("topic filter", s.Filter); err != nil {
			return err
		}
		if s.QoS > 2 {
			return Errorf(ErrInvalidQoS, "subscription QoS of %q", s.Filter) // [MQTT-3-8.3-4]
		}
		if s.RetainHandling > 2 {
			// "It is a Protocol Error to send a Retain Handling value of 3"
			// (5.0 section 3.8.3.1).
			return Errorf(ErrProtocolError, "retain handling 3 for %q", s.Filter)
		}
	}
	if v == V5 {
		return checkProps(&p.Props, SUBSCRIBE)
	}
	return nil
}

func (p *Subscribe) size(v Version) int {
	n := 2
	if v == V5 {
		n += propsLen(&p.Props)
	}
	for _, s := range p.Subscriptions {
		n += 3 + len(s.Filter)
	}
	return n
}

func (p *Subscribe) flags() byte { return 0x02 } // [MQTT-3.8.1-1]

func (p *Subscribe) appendBody(dst []byte, v Version) []byte {
	dst = appendIDProps(dst, p.PacketID, &p.Props, v)
	for _, s := range p.Subscriptions {
		dst = appendStr(dst, s.Filter)
		o := byte(s.QoS)
		if v == V5 {
			if s.NoLocal {
				o |= 0x04
			}
			if s.RetainAsPublished {
				o |= 0x08
			}
			o |= s.RetainHandling << 4
		}
		dst = append(dst, o)
	}
	return dst
}

func (p *Subscribe) decode(flags byte, c *cursor, v Version) error {
	err := decodeIDProps(c, &p.PacketID, &p.Props, SUBSCRIBE, v)
	if err != nil {
		return err
	}
	for c.remaining() > 0 {
		var s Subscription
		if s.Filter, err = c.str("topic filter"); err != nil {
			return err
		}
		o, err := c.u8("subscription options")
		if err != nil {
			return err
		}
		s.QoS = QoS(o & 3)
		if s.QoS == 3 {
			return Errorf(ErrInvalidQoS, "subscription QoS 3") // [MQTT-3-8.3-4]
		}
		if v == V5 {
			// Bits 6 and 7 are reserved and MUST be 0 [MQTT-3.8.3-5];
			// Retain Handling 3 is a Protocol Error.
			if o&0xC0 != 0 {
				return Errorf(ErrMalformedPacket, "reserved subscription option bits set")
			}
			s.NoLocal = o&0x04 != 0
			s.RetainAsPublished = o&0x08 != 0
			s.RetainHandling = (o >> 4) & 3
			if s.RetainHandling == 3 {
				return Errorf(ErrProtocolError, "retain handling 3")
			}
		} else if o&0xFC != 0 {
			// The upper 6 bits are reserved and MUST be 0 (3.1.1 [MQTT-3.8.3-4]).
			return Errorf(ErrMalformedPacket, "reserved subscription option bits set")
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	// The payload MUST contain at least one filter [MQTT-3.8.3-3].
	if len(p.Subscriptions) == 0 {
		return ErrNoTopicFilters
	}
	return nil
}

func (p *Suback) check(v Version) error {
	if p.PacketID == 0 {
		return ErrZeroPacketID
	}
	if v == V5 {
		return checkProps(&p.Props, SUBACK)
	}
	return nil
}

func (p *Suback) size(v Version) int {
	n := 2 + len(p.Codes)
	if v == V5 {
		n += propsLen(&p.Props)
	}
	return n
}

func (p *Suback) flags() byte { return 0 }

func (p *Suback) appendBody(dst []byte, v Version) []byte {
	dst = appendIDProps(dst, p.PacketID, &p.Props, v)
	for _, c := range p.Codes {
		if v != V5 && c.IsError() {
			c = 0x80 // 3.1.1 has one failure code [MQTT-3.9.3-2]
		}
		dst = append(dst, byte(c))
	}
	return dst
}

func (p *Suback) decode(flags byte, c *cursor, v Version) error {
	// The id echoes a non-zero SUBSCRIBE id [MQTT-2.3.1-1] [MQTT-2.3.1-7].
	if err := decodeIDProps(c, &p.PacketID, &p.Props, SUBACK, v); err != nil {
		return err
	}
	for _, b := range c.rest() {
		// 3.1.1 allows 0x00, 0x01, 0x02 and 0x80 only [MQTT-3.9.3-2].
		if v != V5 && b > 2 && b != 0x80 {
			return Errorf(ErrMalformedPacket, "SUBACK return code 0x%02X", b)
		}
		if v == V5 {
			if err := checkReason(SUBACK, ReasonCode(b)); err != nil {
				return err
			}
		}
		p.Codes = append(p.Codes, ReasonCode(b))
	}
	return nil
}

func (p *Unsubscribe) check(v Version) error {
	if p.PacketID == 0 {
		return ErrZeroPacketID
	}
	if len(p.Filters) == 0 {
		return ErrNoTopicFilters // [MQTT-3.10.3-2]
	}
	for _, f := range p.Filters {
		if err := checkStr("topic filter", f); err != nil {
			return err
		}
	}
	if v == V5 {
		return checkProps(&p.Props, UNSUBSCRIBE)
	}
	return nil
}

func (p *Unsubscribe) size(v Version) int {
	n := 2
	if v == V5 {
		n += propsLen(&p.Props)
	}
	for _, f := range p.Filters {
		n += 2 + len(f)
	}
	return n
}

func (p *Unsubscribe) flags() byte { return 0x02 } // [MQTT-3.10.1-1]

func (p *Unsubscribe) appendBody(dst []byte, v Version) []byte {
	dst = appendIDProps(dst, p.PacketID, &p.Props, v)
	for _, f := range p.Filters {
		dst = appendStr(dst, f)
	}
	return dst
}

func (p *Unsubscribe) decode(flags byte, c *cursor, v Version) error {
	if err := decodeIDProps(c, &p.PacketID, &p.Props, UNSUBSCRIBE, v); err != nil {
		return err
	}
	for c.remaining() > 0 {
		f, err := c.str("topic filter")
		if err != nil {
			return err
		}
		p.Filters = append(p.Filters, f)
	}
	if len(p.Filters) == 0 {
		return ErrNoTopicFilters // [MQTT-3.10.3-2]
	}
	return nil
}

func (p *Unsuback) check(v Version) error {
	if p.PacketID == 0 {
		return ErrZeroPacketID
	}
	if v == V5 {
		return checkProps(&p.Props, UNSUBACK)
	}
	return nil
}

func (p *Unsuback) size(v Version) int {
	if v != V5 {
		return 2
	}
	return 2 + propsLen(&p.Props) + len(p.Codes)
}

func (p *Unsuback) flags() byte { return 0 }

func (p *Unsuback) appendBody(dst []byte, v Version) []byte {
	dst = appendU16(dst, p.PacketID)
	if v != V5 {
		return dst
	}
	dst = appendProps(dst, &p.Props)
	for _, c := range p.Codes {
		dst = append(dst, byte(c))
	}
	return dst
}

func (p *Unsuback) decode(flags byte, c *cursor, v Version) error {
	// The id echoes a non-zero UNSUBSCRIBE id [MQTT-2.3.1-1] [MQTT-2.3.1-7];
	// 3.1.1 has no properties nor codes.
	if err := decodeIDProps(c, &p.PacketID, &p.Props, UNSUBACK, v); err != nil || v != V5 {
		return err
	}
	for _, b := range c.rest() {
		if err := checkReason(UNSUBACK, ReasonCode(b)); err != nil {
			return err
		}
		p.Codes = append(p.Codes, ReasonCode(b))
	}
	return nil
}

// decodeIDProps reads the variable header shared by SUBSCRIBE, SUBACK,
// UNSUBSCRIBE and UNSUBACK: a non-zero packet identifier [MQTT-2.2.1-3],
// then (v5) the properties allowed in packet type t.
func decodeIDProps(c *cursor, id *uint16, props *Properties, t PacketType, v Version) error {
	var err error
	if *id, err = c.u16("packet identifier"); err != nil {
		return err
	}
	if *id == 0 {
		return ErrZeroPacketID
	}
	if v == V5 {
		return decodeProps(c, props, t)
	}
	return nil
}

// appendIDProps appends that shared variable header.
func appendIDProps(dst []byte, id uint16, props *Properties, v Version) []byte {
	dst = appendU16(dst, id)
	if v == V5 {
		dst = appendProps(dst, props)
	}
	return dst
}
