package mqtt

// PUBACK, PUBREC, PUBREL, PUBCOMP (5.0 sections 3.4-3.7): a packet
// identifier, then in v5 an optional reason code and properties.

func (p *Ack) check(v Version) error {
	switch p.Kind {
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
	default:
		return Errorf(ErrInvalidPacketType, "ack kind %s", p.Kind)
	}
	if p.PacketID == 0 {
		return ErrZeroPacketID // [MQTT-2.2.1-3]
	}
	if v == V5 {
		if err := checkReason(p.Kind, p.Code); err != nil {
			return err
		}
		return checkProps(&p.Props, p.Kind)
	}
	return nil
}

func (p *Ack) size(v Version) int {
	if v != V5 || (p.Code == Success && p.Props.IsEmpty()) {
		// The Reason Code and Property Length can be omitted if the Reason
		// Code is 0x00 and there are no Properties (section 3.4.2.1).
		return 2
	}
	if p.Props.IsEmpty() {
		return 3
	}
	return 3 + propsLen(&p.Props)
}

func (p *Ack) flags() byte {
	// PUBREL fixed header flags are 0010 [MQTT-3.6.1-1].
	if p.Kind == PUBREL {
		return 0x02
	}
	return 0
}

func (p *Ack) appendBody(dst []byte, v Version) []byte {
	dst = appendU16(dst, p.PacketID)
	switch n := p.size(v); {
	case n == 3:
		dst = append(dst, byte(p.Code))
	case n > 3:
		dst = append(dst, byte(p.Code))
		dst = appendProps(dst, &p.Props)
	}
	return dst
}

func (p *Ack) decode(flags byte, c *cursor, v Version) error {
	var err error
	if p.PacketID, err = c.u16("packet identifier"); err != nil {
		return err
	}
	if p.PacketID == 0 {
		return ErrZeroPacketID
	}
	p.Code = Success
	if v != V5 || c.remaining() == 0 {
		return nil
	}
	rc, _ := c.u8("reason code")
	p.Code = ReasonCode(rc)
	if err := checkReason(p.Kind, p.Code); err != nil {
		return err
	}
	if c.remaining() == 0 {
		return nil
	}
	return decodeProps(c, &p.Props, p.Kind)
}
