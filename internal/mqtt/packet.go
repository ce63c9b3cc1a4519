package mqtt

// codec is implemented by every packet type.
type codec interface {
	Packet
	check(v Version) error
	size(v Version) int // remaining length
	flags() byte        // low nibble of the fixed header
	appendBody(dst []byte, v Version) []byte
	decode(flags byte, c *cursor, v Version) error
}

var (
	_ codec = (*Connect)(nil)
	_ codec = (*Connack)(nil)
	_ codec = (*Publish)(nil)
	_ codec = (*Ack)(nil)
	_ codec = (*Subscribe)(nil)
	_ codec = (*Suback)(nil)
	_ codec = (*Unsubscribe)(nil)
	_ codec = (*Unsuback)(nil)
	_ codec = (*Pingreq)(nil)
	_ codec = (*Pingresp)(nil)
	_ codec = (*Disconnect)(nil)
	_ codec = (*Auth)(nil)
)

// Append validates p for protocol version v and appends the complete
// encoded packet (fixed header included) to dst. A CONNECT is encoded with
// its own Version field. Nothing is appended on error.
func Append(dst []byte, p Packet, v Version) ([]byte, error) {
	c, ok := p.(codec)
	if !ok {
		return dst, Errorf(ErrInvalidPacketType, "%T", p)
	}
	if err := c.check(v); err != nil {
		return dst, err
	}
	n := c.size(v)
	if n > MaxRemainingLength {
		return dst, ErrPacketTooLarge
	}
	dst = append(dst, byte(p.Type())<<4|c.flags())
	dst = appendVarint(dst, uint32(n))
	return c.appendBody(dst, v), nil
}

// Size returns the encoded length of p, fixed header included.
func Size(p Packet, v Version) int {
	c, ok := p.(codec)
	if !ok {
		return 0
	}
	n := c.size(v)
	return 1 + varintSize(uint32(n)) + n
}

// fixedFlags is the required low nibble for packet types whose flags are
// fixed [MQTT-2.1.3-1]; PUBLISH (checked by its decoder) is -1.
var fixedFlags = [16]int{PUBLISH: -1, PUBREL: 2, SUBSCRIBE: 2, UNSUBSCRIBE: 2}

// newPacket returns an empty packet of type t, checking the fixed header
// flags and that the type exists in version v.
func newPacket(b0 byte, v Version) (codec, error) {
	t := PacketType(b0 >> 4)
	if t == 0 || (t == AUTH && v != V5) {
		return nil, Errorf(ErrInvalidPacketType, "type %d", t) // reserved [MQTT-2.2.1]
	}
	if f := fixedFlags[t]; f >= 0 && int(b0&0x0f) != f {
		return nil, Errorf(ErrReservedFlags, "%s flags 0x%X", t, b0&0x0f) // [MQTT-2.1.3-1]
	}
	switch t {
	case CONNECT:
		return &Connect{}, nil
	case CONNACK:
		return &Connack{}, nil
	case PUBLISH:
		return &Publish{}, nil
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return &Ack{Kind: t}, nil
	case SUBSCRIBE:
		return &Subscribe{}, nil
	case SUBACK:
		return &Suback{}, nil
	case UNSUBSCRIBE:
		return &Unsubscribe{}, nil
	case UNSUBACK:
		return &Unsuback{}, nil
	case PINGREQ:
		return &Pingreq{}, nil
	case PINGRESP:
		return &Pingresp{}, nil
	case DISCONNECT:
		return &Disconnect{}, nil
	default:
		return &Auth{}, nil
	}
}

// Decode decodes exactly one complete packet (fixed header included) from
// b. Version 0 means 3.1.1. CONNECT carries its own version. Strings are
// copied; byte slices (payload, binary properties) alias b.
func Decode(b []byte, v Version) (Packet, error) {
	if len(b) < 2 {
		return nil, ErrShortBuffer
	}
	n, hl, err := decodeVarint(b[1:])
	if err != nil {
		return nil, err
	}
	body := b[1+hl:]
	switch {
	case len(body) < int(n):
		return nil, ErrShortBuffer
	case len(body) > int(n):
		return nil, ErrTrailingBytes
	}
	return decodeBody(b[0], body, v, nil, false)
}

// decodeBody decodes a packet body into p (or a new packet when p is nil).
func decodeBody(b0 byte, body []byte, v Version, p codec, alias bool) (Packet, error) {
	if v == 0 {
		v = V311
	}
	if p == nil {
		var err error
		if p, err = newPacket(b0, v); err != nil {
			return nil, err
		}
	}
	c := cursor{b: body, alias: alias}
	if err := decodeInto(p, b0&0x0f, &c, v); err != nil {
		return nil, err
	}
	if c.remaining() != 0 {
		return nil, Errorf(ErrTrailingBytes, "%s", p.Type())
	}
	return p, nil
}

// decodeInto calls p.decode through a type switch rather than the codec
// interface: with static calls the compiler can prove the cursor does not
// escape, so decoding a PUBACK or PINGREQ allocates nothing (an interface
// call would move the cursor to the heap, one allocation per packet).
func decodeInto(p codec, flags byte, c *cursor, v Version) error {
	switch q := p.(type) {
	case *Connect:
		return q.decode(flags, c, v)
	case *Connack:
		return q.decode(flags, c, v)
	case *Publish:
		return q.decode(flags, c, v)
	case *Ack:
		return q.decode(flags, c, v)
	case *Subscribe:
		return q.decode(flags, c, v)
	case *Suback:
		return q.decode(flags, c, v)
	case *Unsubscribe:
		return q.decode(flags, c, v)
	case *Unsuback:
		return q.decode(flags, c, v)
	case *Pingreq:
		return q.decode(flags, c, v)
	case *Pingresp:
		return q.decode(flags, c, v)
	case *Disconnect:
		return q.decode(flags, c, v)
	case *Auth:
		return q.decode(flags, c, v)
	}
	return Errorf(ErrInvalidPacketType, "%T", p) // unreachable: codec is unexported
}
