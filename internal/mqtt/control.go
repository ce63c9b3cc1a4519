package mqtt

// PINGREQ, PINGRESP (no body), DISCONNECT and AUTH (5.0 sections 3.12-3.15).

func (*Pingreq) check(Version) error                   { return nil }
func (*Pingreq) size(Version) int                      { return 0 }
func (*Pingreq) flags() byte                           { return 0 }
func (*Pingreq) appendBody(d []byte, _ Version) []byte { return d }
func (*Pingreq) decode(byte, *cursor, Version) error   { return nil }

func (*Pingresp) check(Version) error                   { return nil }
func (*Pingresp) size(Version) int                      { return 0 }
func (*Pingresp) flags() byte                           { return 0 }
func (*Pingresp) appendBody(d []byte, _ Version) []byte { return d }
func (*Pingresp) decode(byte, *cursor, Version) error   { return nil }

func (p *Disconnect) check(v Version) error {
	if v == V5 {
		if err := checkReason(DISCONNECT, p.Code); err != nil {
			return err
		}
		return checkProps(&p.Props, DISCONNECT)
	}
	return nil
}

func (p *Disconnect) size(v Version) int {
	if v != V5 || (p.Code == Success && p.Props.IsEmpty()) {
		return 0 // reason code and properties may be omitted (3.14.2.1)
	}
	if p.Props.IsEmpty() {
		return 1
	}
	return 1 + propsLen(&p.Props)
}

func (p *Disconnect) flags() byte { return 0 }

func (p *Disconnect) appendBody(dst []byte, v Version) []byte {
	switch n := p.size(v); {
	case n == 1:
		dst = append(dst, byte(p.Code))
	case n > 1:
		dst = appendProps(append(dst, byte(p.Code)), &p.Props)
	}
	return dst
}

func (p *Disconnect) decode(flags byte, c *cursor, v Version) error {
	p.Code = Success
	if v != V5 || c.remaining() == 0 {
		return nil
	}
	rc, _ := c.u8("reason code")
	p.Code = ReasonCode(rc)
	if err := checkReason(DISCONNECT, p.Code); err != nil {
		return err // [MQTT-3.14.2-1]
	}
	if c.remaining() == 0 {
		return nil
	}
	return decodeProps(c, &p.Props, DISCONNECT)
}

func (p *Auth) check(v Version) error {
	if v != V5 {
		return Errorf(ErrInvalidPacketType, "AUTH before MQTT 5")
	}
	switch p.Code {
	case Success, ContinueAuthentication, ReAuthenticate:
	default:
		return Errorf(ErrProtocolError, "AUTH reason code 0x%02X", byte(p.Code))
	}
	return checkProps(&p.Props, AUTH)
}

func (p *Auth) size(v Version) int {
	if p.Code == Success && p.Props.IsEmpty() {
		return 0
	}
	return 1 + propsLen(&p.Props)
}

func (p *Auth) flags() byte { return 0 }

func (p *Auth) appendBody(dst []byte, v Version) []byte {
	if p.size(v) == 0 {
		return dst
	}
	return appendProps(append(dst, byte(p.Code)), &p.Props)
}

func (p *Auth) decode(flags byte, c *cursor, v Version) error {
	// AUTH exists only in MQTT 5; in 3.1.1 type 15 is reserved [MQTT-2.2.1].
	if v != V5 {
		return Errorf(ErrInvalidPacketType, "AUTH before MQTT 5")
	}
	p.Code = Success
	if c.remaining() == 0 {
		return nil
	}
	rc, _ := c.u8("reason code")
	p.Code = ReasonCode(rc)
	switch p.Code {
	case Success, ContinueAuthentication, ReAuthenticate:
	default:
		// The sender MUST use one of the Authenticate Reason Codes [MQTT-3.15.2-1].
		return Errorf(ErrProtocolError, "AUTH reason code 0x%02X", rc)
	}
	if c.remaining() == 0 {
		return nil
	}
	return decodeProps(c, &p.Props, AUTH)
}
