package mqtt

import (
	"unicode/utf8"
	"unsafe"
)

// cursor reads the fields of one packet body. Errors name the field and wrap
// a sentinel so CodeOf finds the reason code.
type cursor struct {
	b   []byte
	pos int
	// alias says the body buffer is owned by the decoded packet (never
	// reused nor mutated), so strings may point into it without copying.
	alias bool
}

func (c *cursor) remaining() int { return len(c.b) - c.pos }

func (c *cursor) u8(field string) (byte, error) {
	if c.pos >= len(c.b) {
		return 0, Errorf(ErrShortBuffer, "%s", field)
	}
	v := c.b[c.pos]
	c.pos++
	return v, nil
}

func (c *cursor) u16(field string) (uint16, error) {
	if c.remaining() < 2 {
		return 0, Errorf(ErrShortBuffer, "%s", field)
	}
	v := uint16(c.b[c.pos])<<8 | uint16(c.b[c.pos+1])
	c.pos += 2
	return v, nil
}

func (c *cursor) u32(field string) (uint32, error) {
	if c.remaining() < 4 {
		return 0, Errorf(ErrShortBuffer, "%s", field)
	}
	b := c.b[c.pos:]
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	c.pos += 4
	return v, nil
}

func (c *cursor) varint(field string) (uint32, error) {
	v, n, err := decodeVarint(c.b[c.pos:])
	if err != nil {
		return 0, Errorf(err.(*Error), "%s", field)
	}
	c.pos += n
	return v, nil
}

// bin reads Binary Data: a two byte length then that many bytes. The result
// aliases the body.
func (c *cursor) bin(field string) ([]byte, error) {
	n, err := c.u16(field)
	if err != nil {
		return nil, err
	}
	if c.remaining() < int(n) {
		return nil, Errorf(ErrShortBuffer, "%s", field)
	}
	v := c.b[c.pos : c.pos+int(n) : c.pos+int(n)]
	c.pos += int(n)
	return v, nil
}

// str reads a UTF-8 Encoded String and validates it.
func (c *cursor) str(field string) (string, error) {
	b, err := c.bin(field)
	if err != nil {
		return "", err
	}
	if err := checkUTF8(b); err != nil {
		return "", Errorf(ErrMalformedUTF8, "%s", field)
	}
	if len(b) == 0 {
		return "", nil
	}
	if c.alias {
		return unsafe.String(&b[0], len(b)), nil
	}
	return string(b), nil
}

// rest returns the bytes left in the body (e.g. a PUBLISH payload).
func (c *cursor) rest() []byte {
	v := c.b[c.pos:len(c.b):len(c.b)]
	c.pos = len(c.b)
	return v
}

// checkUTF8 enforces the rules for UTF-8 Encoded Strings: well-formed UTF-8
// (no overlong forms, no surrogates U+D800..U+DFFF) [MQTT-1.5.4-1] and no
// null character U+0000 [MQTT-1.5.4-2]. utf8.Valid rejects overlong
// encodings and encoded surrogates.
func checkUTF8(b []byte) error {
	for i := 0; i < len(b); i++ {
		if b[i] == 0 {
			return ErrMalformedUTF8
		}
		if b[i] >= utf8.RuneSelf {
			if !utf8.Valid(b[i:]) {
				return ErrMalformedUTF8
			}
			// The rest is valid UTF-8; only U+0000 (a plain 0 byte) remains.
			for _, x := range b[i:] {
				if x == 0 {
					return ErrMalformedUTF8
				}
			}
			return nil
		}
	}
	return nil
}

// ValidUTF8 reports whether s may be sent as an MQTT UTF-8 Encoded String.
func ValidUTF8(s string) bool {
	return len(s) <= 65535 && checkUTF8(unsafe.Slice(unsafe.StringData(s), len(s))) == nil
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendStr(dst []byte, s string) []byte {
	dst = appendU16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBin(dst []byte, b []byte) []byte {
	dst = appendU16(dst, uint16(len(b)))
	return append(dst, b...)
}

// checkStr validates a string field before encoding.
func checkStr(field, s string) error {
	if len(s) > 65535 {
		return Errorf(ErrMalformedPacket, "%s: longer than 65535 bytes", field)
	}
	if !ValidUTF8(s) {
		return Errorf(ErrMalformedUTF8, "%s", field)
	}
	return nil
}

func checkBin(field string, b []byte) error {
	if len(b) > 65535 {
		return Errorf(ErrMalformedPacket, "%s: longer than 65535 bytes", field)
	}
	return nil
}
