package mqtt

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"sync"
)

// maxScratch is the largest body buffer a Reader keeps between packets;
// larger control packets get a one-off buffer.
const maxScratch = 64 << 10

// bigBody is the body size above which the Reader grows the body buffer as
// data arrives (doubling) instead of allocating the announced size up
// front: a peer that announces 256 MB and sends nothing costs at most this
// much memory, whatever the maximum packet size.
const bigBody = 1 << 20

// readBufSize is the read-ahead buffer a Reader borrows from a pool while
// it has input buffered. smallBufSize is the buffer of its own that it
// reads into when it waits for a packet with nothing buffered: an idle
// connection holds no read-ahead buffer, and a small packet (PINGREQ, an
// acknowledgement, a short PUBLISH) is read and decoded from it in one
// read.
const (
	readBufSize  = 4096
	smallBufSize = 128
)

// Reader reads packets from a stream.
//
// Memory: while nothing is buffered a Reader holds about 250 bytes. It
// borrows a readState (a 4 KiB read-ahead buffer and the packets it
// returns) from a pool when input arrives, and gives it back at the next
// ReadPacket or Fill that finds nothing buffered.
type Reader struct {
	// Version is the protocol version of the connection, set by the caller
	// once CONNECT (server) or CONNACK (client) is known. 0 reads as 3.1.1.
	Version Version

	src io.Reader
	br  *bufio.Reader // src, when the caller gave a *bufio.Reader (see Buffered)
	max uint32

	// err is sticky once the stream can no longer be framed (oversized
	// packet, malformed remaining length, I/O error inside a packet):
	// reading stops there.
	err error
	// rerr is a read error that came with data; it is returned once that
	// data is consumed (as bufio does).
	rerr error

	st         *readState // borrowed while input is buffered or a packet is returned
	buf        []byte     // small[:] or st.buf[:]; input is buf[rpos:wpos]
	rpos, wpos int
	big        bool // buf is st.buf
	lastFull   bool // the last read filled buf: more input is probably waiting

	small [smallBufSize]byte
}

// readState is what a Reader needs only while input is buffered or a
// packet it returned is in use.
type readState struct {
	buf      [readBufSize]byte
	scratch  []byte // bodies over readBufSize of packets that do not keep their body
	pub      Publish
	ack      Ack
	pingreq  Pingreq
	pingresp Pingresp
}

var statePool = sync.Pool{New: func() any { return new(readState) }}

// fail records a framing error; every later ReadPacket returns it.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// NewReader returns a Reader over r. maxSize limits the whole packet size
// in bytes (0 = the protocol maximum).
func NewReader(r io.Reader, maxSize uint32) *Reader {
	rd := &Reader{src: r, max: maxSize}
	rd.br, _ = r.(*bufio.Reader)
	rd.buf = rd.small[:]
	return rd
}

// SetMaxSize changes the maximum packet size (0 = protocol maximum).
func (r *Reader) SetMaxSize(n uint32) { r.max = n }

// Buffered returns how many bytes are already read from the stream but not
// consumed, so a caller can flush its writes only when the input is
// drained. When the stream is a *bufio.Reader its buffered bytes count.
func (r *Reader) Buffered() int {
	n := r.wpos - r.rpos
	if r.br != nil {
		n += r.br.Buffered()
	}
	return n
}

// Fill waits until at least one byte of input is buffered, reading once
// from the stream when nothing is. A server can wait for a client's next
// packet with Fill on a small goroutine stack and run ReadPacket and its
// handlers elsewhere; while Fill waits the Reader holds no borrowed
// buffer. Fill ends the validity of the packet returned by the last
// ReadPacket, like ReadPacket itself. Its errors are those of ReadPacket
// before the first byte of a packet: not sticky, unless the stream was
// already unframed.
func (r *Reader) Fill() error {
	if r.err != nil {
		return r.err
	}
	if r.rpos < r.wpos {
		return nil
	}
	r.release()
	return r.fill(false)
}

// ReadPacket reads and decodes one packet. A packet larger than the maximum
// size fails with ErrPacketTooLarge before its body is read or allocated.
//
// Allocation contract: the returned *Publish, *Ack, *Pingreq and *Pingresp
// are owned by the Reader and valid only until the next ReadPacket (or
// Fill); a PUBLISH body is one fresh allocation that its Topic, Payload
// and properties point into, so those fields stay valid for ever. Other
// packet types are freshly allocated.
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
	if r.rpos == r.wpos {
		r.release()
	}
	b0, err := r.readByte(false)
	if err != nil {
		return nil, err
	}
	var n uint32
	for i := 0; ; i++ {
		if i == 4 {
			return nil, r.fail(ErrMalformedVarInt) // at most four bytes
		}
		b, err := r.readByte(true)
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
		st := r.state()
		st.pub = Publish{}
		p = &st.pub
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		st := r.state()
		st.ack = Ack{Kind: t}
		p = &st.ack
	case PINGREQ:
		p = &r.state().pingreq
	case PINGRESP:
		p = &r.state().pingresp
	}
	if p != nil {
		// Check the fixed header flags before reading the body.
		if _, err := newPacketCheck(b0, v); err != nil {
			return nil, err
		}
	}
	// Packets whose decoded fields may alias binary data (PUBLISH payload,
	// CONNECT password and will, CONNACK/AUTH authentication data) get a
	// fresh body they own; the rest decode in place from the read buffer,
	// or from a reused scratch buffer when larger (their strings are
	// copied).
	fresh := t == PUBLISH || t == CONNECT || t == CONNACK || t == AUTH || n > maxScratch
	var body []byte
	if fresh {
		body, err = r.readBody(int(n))
	} else {
		body, err = r.view(int(n))
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

// state borrows the read state if the Reader does not hold it.
func (r *Reader) state() *readState {
	if r.st == nil {
		r.st = statePool.Get().(*readState)
	}
	return r.st
}

// release gives the read state back to the pool. Called at a packet
// boundary with nothing buffered, where the last returned packet is no
// longer valid.
func (r *Reader) release() {
	r.rpos, r.wpos = 0, 0
	st := r.st
	if st == nil {
		return
	}
	r.st, r.buf, r.big = nil, r.small[:], false
	st.pub = Publish{} // drop references to the last body
	if cap(st.scratch) > 4*readBufSize {
		st.scratch = nil
	}
	statePool.Put(st)
}

// fill reads from the stream once (retrying empty reads) into the free
// end of the buffer, keeping the unread input. Inside a packet (inPacket)
// or after a read that filled the buffer it reads into the borrowed 4 KiB
// buffer; otherwise into the Reader's small one.
func (r *Reader) fill(inPacket bool) error {
	if err := r.rerr; err != nil {
		r.rerr = nil
		return err
	}
	if r.rpos == r.wpos {
		r.rpos, r.wpos = 0, 0
	}
	if !r.big && (inPacket || r.lastFull || r.wpos == len(r.buf)) {
		st := r.state()
		k := copy(st.buf[:], r.buf[r.rpos:r.wpos])
		r.buf, r.big, r.rpos, r.wpos = st.buf[:], true, 0, k
	} else if r.wpos == len(r.buf) {
		k := copy(r.buf, r.buf[r.rpos:r.wpos])
		r.rpos, r.wpos = 0, k
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.wpos:])
		if n < 0 || n > len(r.buf)-r.wpos {
			return errors.New("mqtt: reader returned an invalid count")
		}
		r.wpos += n
		if n > 0 {
			r.lastFull = r.wpos == len(r.buf)
			r.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

func (r *Reader) readByte(inPacket bool) (byte, error) {
	for r.rpos == r.wpos {
		if err := r.fill(inPacket); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.rpos]
	r.rpos++
	return b, nil
}

// readFull fills p from the buffered input, then from the stream: large
// remainders straight into p, small ones through the buffer so that the
// next packets are read ahead in the same read.
func (r *Reader) readFull(p []byte) error {
	k := copy(p, r.buf[r.rpos:r.wpos])
	r.rpos += k
	p = p[k:]
	for len(p) > 0 {
		if len(p) >= readBufSize && r.rerr == nil {
			_, err := io.ReadFull(r.src, p)
			return err
		}
		if err := r.fill(true); err != nil {
			return err
		}
		k := copy(p, r.buf[r.rpos:r.wpos])
		r.rpos += k
		p = p[k:]
	}
	return nil
}

// view returns the next n bytes (n <= maxScratch) for a packet that does
// not keep its body: in place in the read buffer when they fit, else in
// the scratch buffer. Valid until the next read.
func (r *Reader) view(n int) ([]byte, error) {
	if r.wpos-r.rpos >= n {
		b := r.buf[r.rpos : r.rpos+n : r.rpos+n]
		r.rpos += n
		return b, nil
	}
	if n > readBufSize {
		st := r.state()
		if cap(st.scratch) < n {
			st.scratch = make([]byte, n)
		}
		b := st.scratch[:n]
		return b, r.readFull(b)
	}
	if !r.big || r.rpos+n > len(r.buf) {
		// Move the start of the body to the front of the 4 KiB buffer.
		st := r.state()
		k := copy(st.buf[:], r.buf[r.rpos:r.wpos])
		r.buf, r.big, r.rpos, r.wpos = st.buf[:], true, 0, k
	}
	for r.wpos-r.rpos < n {
		if err := r.fill(true); err != nil {
			return nil, err
		}
	}
	b := r.buf[r.rpos : r.rpos+n : r.rpos+n]
	r.rpos += n
	return b, nil
}

// readBody reads an n-byte body into a new buffer: one allocation up to
// bigBody, then a buffer that doubles as data arrives.
func (r *Reader) readBody(n int) ([]byte, error) {
	if n <= bigBody {
		b := make([]byte, n)
		return b, r.readFull(b)
	}
	b := make([]byte, 0, bigBody)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(len(b), n-len(b)))
		}
		end := min(cap(b), n)
		if err := r.readFull(b[len(b):end]); err != nil {
			return nil, err
		}
		b = b[:end]
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// HasPacket reports whether a whole packet is buffered, so that
// ReadPacket returns it without reading from the stream. A server that
// batches its replies flushes them before a ReadPacket that would wait:
// every complete packet is answered at once, whatever follows it.
func (r *Reader) HasPacket() bool {
	in := r.buf[r.rpos:r.wpos]
	if len(in) < 2 {
		return false
	}
	n, k, err := decodeVarint(in[1:])
	if err != nil {
		return err != ErrShortBuffer // a framing error: ReadPacket reports it without waiting
	}
	return 1+k+int(n) <= len(in)
}
