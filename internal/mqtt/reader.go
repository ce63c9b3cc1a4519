package mqtt

import (
	"bufio"
	"errors"
	"io"
	"slices"
)

// maxScratch is the largest body buffer a Reader keeps between packets;
// larger control packets get a one-off buffer.
const maxScratch = 64 << 10

// bigBody is the body size above which the Reader grows the body buffer as
// data arrives (doubling) instead of allocating the announced size up
// front: a peer that announces 256 MB and sends nothing costs at most this
// much memory, whatever the maximum packet size.
const bigBody = 1 << 20

// Reader reads packets from a stream.
type Reader struct {
	// Version is the protocol version of the connection, set by the caller
	// once CONNECT (server) or CONNACK (client) is known. 0 reads as 3.1.1.
	Version Version

	br      *bufio.Reader
	max     uint32
	scratch []byte

	pub      Publish
	ack      Ack
	pingreq  Pingreq
	pingresp Pingresp

	// err is sticky once the stream can no longer be framed (oversized
	// packet, malformed remaining length, I/O error inside a packet):
	// reading stops there.
	err error
}

// fail records a framing error; every later ReadPacket returns it.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// NewReader returns a Reader over r. maxSize limits the whole packet size
// in bytes (0 = the protocol maximum).
func NewReader(r io.Reader, maxSize uint32) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	return &Reader{br: br, max: maxSize}
}

// SetMaxSize changes the maximum packet size (0 = protocol maximum).
func (r *Reader) SetMaxSize(n uint32) { r.max = n }

// Buffered returns how many bytes are already read from the stream but not
// consumed, so a caller can flush its writes only when the input is drained.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadPacket reads and decodes one packet. A packet larger than the maximum
// size fails with ErrPacketTooLarge before its body is read or allocated.
//
// Allocation contract: the returned *Publish, *Ack, *Pingreq and *Pingresp
// are owned by the Reader and valid only until the next ReadPacket; a
// PUBLISH body is one fresh allocation that its Topic, Payload and
// properties point into, so those fields stay valid for ever. Other packet
// types are freshly allocated.
//
// Errors that leave the stream unframed (ErrPacketTooLarge, a malformed
// remaining length, an I/O error or EOF inside a packet) are sticky: every
// later call returns the same error without reading. An error before the
// first byte of a packet (io.EOF, a read deadline) is not, and a packet
// that is framed but fails to decode is consumed, so the caller decides.
func (r *Reader) ReadPacket() (Packet, error) {
	if r.err != nil {
		return nil, r.err
	}
	b0, err := r.br.ReadByte()
	if err != nil {
		return nil, err
	}
	var n uint32
	for i := 0; ; i++ {
		if i == 4 {
			return nil, r.fail(ErrMalformedVarInt) // at most four bytes
		}
		b, err := r.br.ReadByte()
		if err != nil {
			return nil, r.fail(unexpected(err))
		}
		n |= uint32(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if i > 0 && b == 0 {
				return nil, r.fail(ErrMalformedVarInt) // not minimal [MQTT-1.5.5-1]
			}
			break
		}
	}
	if total := 1 + uint64(varintSize(n)) + uint64(n); r.max > 0 && total > uint64(r.max) {
		return nil, r.fail(Errorf(ErrPacketTooLarge, "%d bytes exceeds maximum %d", total, r.max))
	}
	v := r.Version
	if v == 0 {
		v = V311
	}
	t := PacketType(b0 >> 4)
	var p codec
	switch t {
	case PUBLISH:
		r.pub = Publish{}
		p = &r.pub
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		r.ack = Ack{Kind: t}
		p = &r.ack
	case PINGREQ:
		p = &r.pingreq
	case PINGRESP:
		p = &r.pingresp
	}
	if p != nil {
		// Check the fixed header flags before reading the body.
		if _, err := newPacketCheck(b0, v); err != nil {
			return nil, err
		}
	}
	// Packets whose decoded fields may alias binary data (PUBLISH payload,
	// CONNECT password and will, CONNACK/AUTH authentication data) get a
	// fresh body they own; the rest decode from a reused scratch buffer
	// (their strings are copied).
	fresh := t == PUBLISH || t == CONNECT || t == CONNACK || t == AUTH || n > maxScratch
	var body []byte
	if fresh {
		body, err = readBody(r.br, int(n))
	} else {
		if cap(r.scratch) < int(n) {
			r.scratch = make([]byte, n, max(int(n), 256))
		}
		body = r.scratch[:n]
		_, err = io.ReadFull(r.br, body)
	}
	if err != nil {
		return nil, r.fail(unexpected(err))
	}
	return decodeBody(b0, body, v, p, fresh)
}

// newPacketCheck validates the fixed header byte without allocating.
func newPacketCheck(b0 byte, v Version) (PacketType, error) {
	t := PacketType(b0 >> 4)
	if t == 0 || (t == AUTH && v != V5) {
		return t, Errorf(ErrInvalidPacketType, "type %d", t)
	}
	if f := fixedFlags[t]; f >= 0 && int(b0&0x0f) != f {
		return t, Errorf(ErrReservedFlags, "%s flags 0x%X", t, b0&0x0f)
	}
	return t, nil
}

// readBody reads an n-byte body into a new buffer: one allocation up to
// bigBody, then a buffer that doubles as data arrives.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= bigBody {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, bigBody)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(len(b), n-len(b)))
		}
		k, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
