package mqtt

import "sync"

// frameBufSize is the largest input buffer a Framer borrows while it
// holds input. Packets whose whole size exceeds it are gathered in a body
// of their own (see Framer.Space).
const frameBufSize = 16 << 10

// frameSmallSize is the buffer a Framer borrows first: most input is a
// packet or two of a few bytes (a CONNECT, an acknowledgement), and an
// event loop that reads many connections at once borrows one buffer per
// connection with input. When input fills it, the Framer moves to a
// frameBufSize buffer, and starts with one the next time too until its
// input fits the small buffer again.
const frameSmallSize = 1 << 10

// frameBuf is what a Framer borrows from a pool while it holds input: the
// buffer and the packets Next returns.
type frameBuf struct {
	b        []byte // frameSmallSize or frameBufSize bytes
	pub      Publish
	ack      Ack
	pingreq  Pingreq
	pingresp Pingresp
}

var (
	framePool      = sync.Pool{New: func() any { return &frameBuf{b: make([]byte, frameBufSize)} }}
	frameSmallPool = sync.Pool{New: func() any { return &frameBuf{b: make([]byte, frameSmallSize)} }}
)

// Framer splits a byte stream that the caller pushes into it into
// packets: the caller reads from its socket into Space, reports the count
// with Commit, and takes complete packets with Next, which never waits.
// It is the Reader of an event loop, where one goroutine serves many
// connections and must never block on any of them.
//
// Memory: a Framer holding no input holds no buffer. While input is
// buffered it borrows a 16 KiB buffer from a pool (Release gives it back).
// A packet larger than that buffer is gathered in a body of its own that
// grows as its bytes arrive (doubling, from 64 KiB), never to more than
// the announced size: a peer announcing 256 MB and sending nothing costs
// nothing beyond the header.
//
// Errors that leave the stream unframed (ErrPacketTooLarge, a malformed
// remaining length, wrong fixed-header flags) are sticky: every later
// Next returns the same error. A packet that is framed but fails to
// decode is consumed, and the error returned once; the caller decides.
type Framer struct {
	// Version is the protocol version of the stream (set once CONNECT or
	// CONNACK is known); 0 reads as 3.1.1.
	Version Version

	wide bool // borrow a frameBufSize buffer first (the last input outgrew the small one)
	max  uint32
	err  error
	fb   *frameBuf  // borrowed while input is buffered
	r, w int        // input is fb.b[r:w]
	peak int        // the most input held in the current buffer
	big  *bigPacket // a packet larger than the buffer, while it is gathered
}

// bigPacket is a packet larger than a Framer's buffer: its first byte,
// announced body length, fixed header length, and the body gathered so
// far (len(body) bytes received). Out of line, the Framer of every
// connection is 64 bytes (a Go size class of its own among what a
// connection keeps: freed when the connection is idle, it leaves no holes
// in the spans of the structs an idle connection keeps; issue 17).
type bigPacket struct {
	body []byte
	b0   byte
	n    int
	h    int
}

// NewFramer returns a Framer for packets of at most maxSize bytes in all
// (0 = the protocol maximum).
func NewFramer(maxSize uint32) *Framer { return &Framer{max: maxSize} }

// SetMaxSize changes the maximum packet size (0 = protocol maximum).
func (f *Framer) SetMaxSize(n uint32) { f.max = n }

// Err returns the sticky framing error, if any.
func (f *Framer) Err() error { return f.err }

// Buffered returns how many bytes were pushed and not yet returned as
// packets.
func (f *Framer) Buffered() int {
	if g := f.big; g != nil {
		return f.w - f.r + g.h + len(g.body)
	}
	return f.w - f.r
}

// Space returns where the caller should put the next bytes of the
// stream (never empty unless a framing error is pending). The bytes
// written there count once passed to Commit. Space ends the validity of
// the packet Next returned last.
func (f *Framer) Space() []byte {
	g := f.big
	if f.err != nil || (g != nil && len(g.body) == g.n) {
		return nil // Next first
	}
	if g != nil {
		if len(g.body) == cap(g.body) {
			grow := min(max(cap(g.body), 64<<10), g.n-len(g.body))
			nb := make([]byte, len(g.body), len(g.body)+grow)
			copy(nb, g.body)
			g.body = nb
		}
		return g.body[len(g.body):cap(g.body)]
	}
	if f.fb == nil {
		if f.wide {
			f.fb = framePool.Get().(*frameBuf)
		} else {
			f.fb = frameSmallPool.Get().(*frameBuf)
		}
		f.r, f.w, f.peak = 0, 0, 0
	}
	if f.r == f.w {
		f.r, f.w = 0, 0
	} else if f.r > 0 && len(f.fb.b)-f.w < 1024 {
		// Little room left at the end: move what is buffered to the front.
		f.w = copy(f.fb.b, f.fb.b[f.r:f.w])
		f.r = 0
	}
	if f.w == len(f.fb.b) && len(f.fb.b) < frameBufSize {
		// The small buffer is full: move to a large one.
		fb := framePool.Get().(*frameBuf)
		f.w = copy(fb.b, f.fb.b[f.r:f.w])
		f.r = 0
		f.putBuf()
		f.fb, f.wide = fb, true
	}
	return f.fb.b[f.w:]
}

// putBuf returns the borrowed buffer to its pool.
func (f *Framer) putBuf() {
	fb := f.fb
	f.fb = nil
	fb.pub = Publish{} // drop references to the last body
	if len(fb.b) < frameBufSize {
		frameSmallPool.Put(fb)
		return
	}
	if f.peak <= frameSmallSize {
		f.wide = false // the small buffer would have done
	}
	framePool.Put(fb)
}

// Commit records that n bytes were written at the start of Space.
func (f *Framer) Commit(n int) {
	if g := f.big; g != nil {
		g.body = g.body[:len(g.body)+n]
		return
	}
	f.w += n
	f.peak = max(f.peak, f.w-f.r)
}

// Write pushes p (a convenience for callers whose input is already in a
// buffer). It copies p in pieces through Space and Commit, handing
// complete packets to fn as they form; fn's error stops it.
func (f *Framer) Write(p []byte, fn func(Packet) error) error {
	for len(p) > 0 {
		sp := f.Space()
		if len(sp) == 0 {
			return f.err
		}
		n := copy(sp, p)
		f.Commit(n)
		p = p[n:]
		for {
			pk, err := f.Next()
			if err != nil {
				return err
			}
			if pk == nil {
				break
			}
			if err := fn(pk); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Framer) fail(err error) error {
	f.err = err
	return err
}

// Next returns the next complete packet, or nil, nil when the next packet
// is not complete yet. Ownership is as for Reader.ReadPacket: the
// returned *Publish, *Ack, *Pingreq and *Pingresp belong to the Framer
// and are valid until the next Next, Space or Release; a PUBLISH body is
// one fresh allocation its fields point into; other packets are fresh.
func (f *Framer) Next() (Packet, error) { return f.NextAlloc(nil) }

// NextAlloc is Next with the fresh body of a PUBLISH that arrived in one
// buffer taken from alloc(n), which must return a slice of length n that
// nothing else uses (nil: make). A broker can so put the body in the same
// allocation as its own message.
func (f *Framer) NextAlloc(alloc func(n int) []byte) (Packet, error) {
	if f.err != nil {
		return nil, f.err
	}
	v := f.Version
	if v == 0 {
		v = V311
	}
	if g := f.big; g != nil {
		if len(g.body) < g.n {
			return nil, nil
		}
		f.big = nil
		return decodeBody(g.b0, g.body, v, nil, true)
	}
	if f.fb == nil || f.w-f.r < 2 {
		return nil, nil
	}
	in := f.fb.b[f.r:f.w]
	b0 := in[0]
	n, k, err := decodeVarint(in[1:])
	if err == ErrShortBuffer {
		return nil, nil
	}
	if err != nil {
		return nil, f.fail(err)
	}
	h := 1 + k
	if total := uint64(h) + uint64(n); f.max > 0 && total > uint64(f.max) {
		return nil, f.fail(Errorf(ErrPacketTooLarge, "%d bytes exceeds maximum %d", total, f.max))
	}
	t := PacketType(b0 >> 4)
	var p codec
	switch t {
	case PUBLISH:
		f.fb.pub = Publish{}
		p = &f.fb.pub
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		f.fb.ack = Ack{Kind: t}
		p = &f.fb.ack
	case PINGREQ:
		p = &f.fb.pingreq
	case PINGRESP:
		p = &f.fb.pingresp
	}
	// The fixed header is checked before the body is waited for: a
	// reserved type or wrong flags close the stream at once.
	if _, err := newPacketCheck(b0, v); err != nil {
		return nil, f.fail(err)
	}
	if h+int(n) > len(in) {
		if h+int(n) <= frameBufSize {
			return nil, nil // fits a buffer: wait for the rest (Space grows it)
		}
		// Larger than the buffer: gather the body on its own.
		have := in[h:]
		g := &bigPacket{body: make([]byte, len(have), min(int(n), max(64<<10, len(have)))), b0: b0, n: int(n), h: h}
		copy(g.body, have)
		f.big = g
		f.r = f.w
		f.Release()
		if len(g.body) == g.n { // cannot happen: it did not fit
			return f.Next()
		}
		return nil, nil
	}
	body := in[h : h+int(n) : h+int(n)]
	f.r += h + int(n)
	// Packets whose decoded fields may alias binary data (PUBLISH payload,
	// CONNECT password and will, CONNACK/AUTH authentication data) get a
	// fresh body they own; the rest decode from the buffer (their strings
	// are copied).
	fresh := t == PUBLISH || t == CONNECT || t == CONNACK || t == AUTH
	if fresh {
		var own []byte
		if alloc != nil && t == PUBLISH {
			own = alloc(len(body))
		} else {
			own = make([]byte, len(body))
		}
		copy(own, body)
		body = own
	}
	return decodeBody(b0, body, v, p, fresh)
}

// Release gives the borrowed buffer back when nothing is buffered (an
// idle connection then holds none). It ends the validity of the packet
// Next returned last.
func (f *Framer) Release() {
	if f.fb == nil || f.r != f.w {
		return
	}
	f.r, f.w = 0, 0
	f.putBuf()
}

// Holds reports whether a complete packet whose type is in mask (bit 1<<type)
// is buffered, without decoding or consuming anything. An event loop uses
// it to find the connections whose pending input changes subscriptions
// before it routes anybody's PUBLISH.
func (f *Framer) Holds(mask uint16) bool {
	if f.err != nil {
		return false
	}
	if g := f.big; g != nil {
		return len(g.body) == g.n && mask&(1<<(g.b0>>4)) != 0
	}
	if f.fb == nil {
		return false
	}
	in := f.fb.b[f.r:f.w]
	for len(in) >= 2 {
		n, k, err := decodeVarint(in[1:])
		if err != nil {
			return false // incomplete, or a framing error Next reports
		}
		size := 1 + k + int(n)
		if size > len(in) {
			return false
		}
		if mask&(1<<(in[0]>>4)) != 0 {
			return true
		}
		in = in[size:]
	}
	return false
}
