package mqtt

// CONNACK (3.1.1 section 3.2, 5.0 section 3.2).

func (p *Connack) check(v Version) error {
	if v == V5 {
		if err := checkReason(CONNACK, p.Code); err != nil {
			return err
		}
		return checkProps(&p.Props, CONNACK)
	}
	return nil
}

func (p *Connack) size(v Version) int {
	if v == V5 {
		return 2 + propsLen(&p.Props)
	}
	return 2
}

func (p *Connack) flags() byte { return 0 }

func (p *Connack) appendBody(dst []byte, v Version) []byte {
	var f byte
	if p.SessionPresent && v != V31 {
		// MQTT 3.1 has no Session Present flag: the whole byte is
		// reserved and sent as 0 (3.1 CONNACK "Reserved values. Not
		// used."); 3.1.1 [MQTT-3.2.2-2], 5.0 [MQTT-3.2.2-2].
		f = 1
	}
	if v == V5 {
		dst = append(dst, f, byte(p.Code))
		return appendProps(dst, &p.Props)
	}
	return append(dst, f, ConnackCodeV3(p.Code))
}

func (p *Connack) decode(flags byte, c *cursor, v Version) error {
	f, err := c.u8("connect acknowledge flags")
	if err != nil {
		return err
	}
	// Bits 7-1 are reserved and MUST be 0 [MQTT-3.2.2-1] (3.1: the whole
	// byte is reserved).
	if f&^1 != 0 {
		return Errorf(ErrMalformedPacket, "reserved connack flags set")
	}
	// 3.1 has no Session Present flag: its bit 0 is accepted and not
	// used ("Reserved values. Not used."), as Append sends it (0): a
	// decoded 3.1 CONNACK re-encodes to the same packet (FuzzDecode).
	p.SessionPresent = f&1 != 0 && v != V31
	rc, err := c.u8("return code")
	if err != nil {
		return err
	}
	if v == V5 {
		p.Code = ReasonCode(rc)
		if err := checkReason(CONNACK, p.Code); err != nil {
			return err // [MQTT-3.2.2-8]
		}
		p.ReturnCodeV3 = ConnackCodeV3(p.Code)
		// A refusing CONNACK MUST have Session Present 0 [MQTT-3.2.2-6].
		if p.Code.IsError() && p.SessionPresent {
			return Errorf(ErrProtocolError, "session present with reason code 0x%02X", rc)
		}
		return decodeProps(c, &p.Props, CONNACK)
	}
	// Return codes 6-255 are reserved (3.1.1 section 3.2.2.3, Table 3.1): a
	// server with no applicable code MUST close the connection without
	// sending CONNACK [MQTT-3.2.2-6], so a reserved code is a protocol
	// violation (and could not be re-encoded faithfully).
	if rc > ConnRefusedNotAuthorized {
		return Errorf(ErrProtocolError, "reserved CONNACK return code %d", rc)
	}
	p.ReturnCodeV3 = rc
	p.Code = ConnackCodeFromV3(rc)
	// A CONNACK with a non-zero return code MUST have Session Present 0
	// [MQTT-3.2.2-4].
	if rc != 0 && p.SessionPresent {
		return Errorf(ErrProtocolError, "session present with return code %d", rc)
	}
	return nil
}
