package mqtt

// CONNECT (3.1.1 section 3.1, 5.0 section 3.1).

const (
	connFlagReserved   = 0x01
	connFlagClean      = 0x02
	connFlagWill       = 0x04
	connFlagWillQoS    = 0x18
	connFlagWillRetain = 0x20
	connFlagPassword   = 0x40
	connFlagUsername   = 0x80

	// levelBridge is the protocol level bit of mosquitto's try_private.
	levelBridge = 0x80
)

func protocolName(v Version) string {
	if v == V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

func (p *Connect) check(_ Version) error {
	switch p.Version {
	case V31, V311, V5:
	default:
		return ErrUnsupportedVersion
	}
	if p.Bridge && p.Version == V5 {
		// mosquitto's v5 bridges use No Local instead of the private bit.
		return Errorf(ErrUnsupportedVersion, "bridge flag with MQTT 5.0")
	}
	if p.ProtocolName != "" && p.ProtocolName != protocolName(p.Version) {
		return ErrInvalidProtocolName
	}
	if err := checkStr("client identifier", p.ClientID); err != nil {
		return err
	}
	if p.HasUsername {
		if err := checkStr("user name", p.Username); err != nil {
			return err
		}
	}
	// If the User Name Flag is 0, the Password Flag MUST be 0 [MQTT-3.1.2-22]
	// (3.1.1 only; MQTT 5.0 allows a password without a user name).
	if p.HasPassword && !p.HasUsername && p.Version != V5 {
		return Errorf(ErrProtocolError, "password without user name")
	}
	if p.HasPassword {
		if err := checkBin("password", p.Password); err != nil {
			return err
		}
	}
	if w := p.Will; w != nil {
		if w.QoS > 2 {
			return Errorf(ErrInvalidQoS, "will QoS") // [MQTT-3.1.2-14]
		}
		if err := ValidTopicName(w.Topic); err != nil {
			return Errorf(ErrInvalidTopicName, "will topic %q", w.Topic)
		}
		if err := checkBin("will payload", w.Payload); err != nil {
			return err
		}
		if p.Version == V5 {
			if err := checkProps(&w.Props, willProps); err != nil {
				return err
			}
		}
	}
	if p.Version == V5 {
		return checkProps(&p.Props, CONNECT)
	}
	return nil
}

func (p *Connect) size(v Version) int {
	n := 2 + len(protocolName(p.Version)) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if p.Version == V5 {
		n += propsLen(&p.Props)
	}
	if w := p.Will; w != nil {
		if p.Version == V5 {
			n += propsLen(&w.Props)
		}
		n += 2 + len(w.Topic) + 2 + len(w.Payload)
	}
	if p.HasUsername {
		n += 2 + len(p.Username)
	}
	if p.HasPassword {
		n += 2 + len(p.Password)
	}
	return n
}

func (p *Connect) flags() byte { return 0 }

func (p *Connect) appendBody(dst []byte, v Version) []byte {
	dst = appendStr(dst, protocolName(p.Version))
	if p.Bridge {
		dst = append(dst, byte(p.Version)|levelBridge)
	} else {
		dst = append(dst, byte(p.Version))
	}
	var f byte
	if p.CleanStart {
		f |= connFlagClean
	}
	if w := p.Will; w != nil {
		f |= connFlagWill | byte(w.QoS)<<3
		if w.Retain {
			f |= connFlagWillRetain
		}
	}
	if p.HasPassword {
		f |= connFlagPassword
	}
	if p.HasUsername {
		f |= connFlagUsername
	}
	dst = append(dst, f)
	dst = appendU16(dst, p.KeepAlive)
	if p.Version == V5 {
		dst = appendProps(dst, &p.Props)
	}
	dst = appendStr(dst, p.ClientID)
	if w := p.Will; w != nil {
		if p.Version == V5 {
			dst = appendProps(dst, &w.Props)
		}
		dst = appendStr(dst, w.Topic)
		dst = appendBin(dst, w.Payload)
	}
	if p.HasUsername {
		dst = appendStr(dst, p.Username)
	}
	if p.HasPassword {
		dst = appendBin(dst, p.Password)
	}
	return dst
}

func (p *Connect) decode(flags byte, c *cursor, _ Version) error {
	name, err := c.str("protocol name")
	if err != nil {
		return err
	}
	level, err := c.u8("protocol level")
	if err != nil {
		return err
	}
	// mosquitto bridges with try_private set 0x80 on a 3.1/3.1.1 level.
	p.Bridge = level&levelBridge != 0 && (level&^levelBridge == 3 || level&^levelBridge == 4)
	if p.Bridge {
		level &^= levelBridge
	}
	p.Version = Version(level)
	p.ProtocolName = name
	// The protocol name must be "MQTT" (or "MQIsdp" for 3.1) [MQTT-3.1.2-1]
	// and the level one we support [MQTT-3.1.2-2].
	switch {
	case name == "MQTT" && (level == 4 || level == 5):
	case name == "MQIsdp" && level == 3:
	case name != "MQTT" && name != "MQIsdp":
		return Errorf(ErrInvalidProtocolName, "%q", name)
	default:
		return Errorf(ErrUnsupportedVersion, "%q level %d", name, level)
	}
	f, err := c.u8("connect flags")
	if err != nil {
		return err
	}
	// The reserved flag MUST be 0 [MQTT-3.1.2-3].
	if f&connFlagReserved != 0 {
		return Errorf(ErrMalformedPacket, "reserved connect flag set")
	}
	p.CleanStart = f&connFlagClean != 0
	willQoS := QoS(f&connFlagWillQoS) >> 3
	if f&connFlagWill == 0 {
		// Will QoS and Will Retain MUST be 0 without the Will Flag
		// [MQTT-3.1.2-11] [MQTT-3.1.2-13].
		if willQoS != 0 || f&connFlagWillRetain != 0 {
			return Errorf(ErrMalformedPacket, "will QoS/retain set without will flag")
		}
	} else if willQoS > 2 {
		return Errorf(ErrInvalidQoS, "will QoS 3") // [MQTT-3.1.2-12]
	}
	p.HasUsername = f&connFlagUsername != 0
	p.HasPassword = f&connFlagPassword != 0
	if p.HasPassword && !p.HasUsername && p.Version != V5 {
		return Errorf(ErrMalformedPacket, "password flag without user name flag") // [MQTT-3.1.2-22]
	}
	if p.KeepAlive, err = c.u16("keep alive"); err != nil {
		return err
	}
	if p.Version == V5 {
		if err := decodeProps(c, &p.Props, CONNECT); err != nil {
			return err
		}
	}
	if p.ClientID, err = c.str("client identifier"); err != nil {
		return err
	}
	if f&connFlagWill != 0 {
		w := &Will{QoS: willQoS, Retain: f&connFlagWillRetain != 0}
		if p.Version == V5 {
			if err := decodeProps(c, &w.Props, willProps); err != nil {
				return err
			}
		}
		if w.Topic, err = c.str("will topic"); err != nil {
			return err
		}
		if err := ValidTopicName(w.Topic); err != nil {
			return Errorf(ErrInvalidTopicName, "will topic %q", w.Topic)
		}
		if w.Payload, err = c.bin("will payload"); err != nil {
			return err
		}
		p.Will = w
	}
	if p.HasUsername {
		if p.Username, err = c.str("user name"); err != nil {
			return err
		}
	}
	if p.HasPassword {
		if p.Password, err = c.bin("password"); err != nil {
			return err
		}
	}
	return nil
}
