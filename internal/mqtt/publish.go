package mqtt

// PUBLISH (3.1.1 section 3.3, 5.0 section 3.3).

func (p *Publish) check(v Version) error {
	if p.QoS > 2 {
		return ErrInvalidQoS // [MQTT-3.3.1-4]
	}
	// DUP MUST be 0 for QoS 0 messages [MQTT-3.3.1-2].
	if p.Dup && p.QoS == 0 {
		return Errorf(ErrMalformedPacket, "DUP set on QoS 0")
	}
	if p.QoS > 0 && p.PacketID == 0 {
		return ErrZeroPacketID // [MQTT-2.2.1-3]
	}
	if err := checkPublishTopic(p.Topic, v, &p.Props); err != nil {
		return err
	}
	if v == V5 {
		return checkProps(&p.Props, PUBLISH)
	}
	return nil
}

// checkPublishTopic: the Topic Name MUST NOT contain wildcards
// [MQTT-3.3.2-2]; it must be non-empty [MQTT-4.7.3-1] unless a v5 Topic
// Alias stands in for it (section 3.3.2.3.4).
func checkPublishTopic(topic string, v Version, props *Properties) error {
	if topic == "" && v == V5 {
		if props.Has(PropTopicAlias) {
			return nil
		}
		// "It is a Protocol Error if the Topic Name is zero length and there
		// is no Topic Alias" (5.0 section 3.3.2.1).
		return Errorf(ErrProtocolError, "empty topic name without topic alias")
	}
	if err := ValidTopicName(topic); err != nil {
		return err
	}
	return nil
}

// headerSize is the remaining length without the payload.
func (p *Publish) headerSize(v Version) int {
	n := 2 + len(p.Topic)
	if p.QoS > 0 {
		n += 2
	}
	if v == V5 {
		n += propsLen(&p.Props)
	}
	return n
}

func (p *Publish) size(v Version) int { return p.headerSize(v) + len(p.Payload) }

func (p *Publish) flags() byte {
	f := byte(p.QoS) << 1
	if p.Dup {
		f |= 0x08
	}
	if p.Retain {
		f |= 0x01
	}
	return f
}

func (p *Publish) appendHeaderBody(dst []byte, v Version) []byte {
	dst = appendStr(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendU16(dst, p.PacketID)
	}
	if v == V5 {
		dst = appendProps(dst, &p.Props)
	}
	return dst
}

func (p *Publish) appendBody(dst []byte, v Version) []byte {
	return append(p.appendHeaderBody(dst, v), p.Payload...)
}

// AppendHeader appends everything of the encoded PUBLISH except the
// payload: the fixed header (whose remaining length counts the payload),
// topic, packet identifier and properties. Sending the result followed by
// p.Payload gives the whole packet, so a payload shared by many
// subscribers is never copied per subscriber.
func AppendHeader(dst []byte, p *Publish, v Version) ([]byte, error) {
	if err := p.check(v); err != nil {
		return dst, err
	}
	n := p.size(v)
	if n > MaxRemainingLength {
		return dst, ErrPacketTooLarge
	}
	dst = append(dst, byte(PUBLISH)<<4|p.flags())
	dst = appendVarint(dst, uint32(n))
	return p.appendHeaderBody(dst, v), nil
}

func (p *Publish) decode(flags byte, c *cursor, v Version) error {
	p.Dup = flags&0x08 != 0
	p.QoS = QoS(flags>>1) & 3
	p.Retain = flags&0x01 != 0
	// A PUBLISH packet MUST NOT have both QoS bits set to 1 [MQTT-3.3.1-4].
	if p.QoS == 3 {
		return Errorf(ErrInvalidQoS, "PUBLISH QoS 3")
	}
	if p.Dup && p.QoS == 0 {
		return Errorf(ErrMalformedPacket, "DUP set on QoS 0") // [MQTT-3.3.1-2]
	}
	var err error
	if p.Topic, err = c.str("topic name"); err != nil {
		return err
	}
	if p.QoS > 0 {
		if p.PacketID, err = c.u16("packet identifier"); err != nil {
			return err
		}
		if p.PacketID == 0 {
			return ErrZeroPacketID // [MQTT-2.2.1-3]
		}
	}
	if v == V5 {
		if err := decodeProps(c, &p.Props, PUBLISH); err != nil {
			return err
		}
	}
	if err := checkPublishTopic(p.Topic, v, &p.Props); err != nil {
		return err
	}
	p.Payload = c.rest()
	return nil
}
