package mqtt

// Variable Byte Integer (MQTT 5.0 section 1.5.5, 3.1.1 section 2.2.3): seven
// bits per byte, least significant group first, at most four bytes.

// varintSize returns how many bytes v takes as a variable byte integer.
func varintSize(v uint32) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

// appendVarint appends v (which must be <= MaxRemainingLength).
func appendVarint(dst []byte, v uint32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// decodeVarint decodes a variable byte integer at the start of b and returns
// its value and length. At most four bytes are allowed (section 1.5.5) and
// the value MUST use the minimum number of bytes [MQTT-1.5.5-1], so a
// fifth byte or a trailing zero group is malformed; running out of bytes
// is ErrShortBuffer.
func decodeVarint(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrShortBuffer
		}
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0, ErrMalformedVarInt // not minimal [MQTT-1.5.5-1]
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrMalformedVarInt
}
