package mqtt

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"unsafe"
)

// frameAll pushes data into a Framer in pieces of the given sizes (cycled;
// nil = as much as Space takes) and collects up to 64 packets the way
// readAll does. A stream that ends inside a packet is reported as the
// Reader reports it, io.ErrUnexpectedEOF.
func frameAll(data []byte, v Version, max uint32, pieces []int) []readResult {
	f := NewFramer(max)
	f.Version = v
	var out []readResult
	i := 0
	for {
		for len(out) < 64 {
			p, err := f.Next()
			if err != nil {
				return append(out, readResult{err: err.Error()})
			}
			if p == nil {
				break
			}
			switch q := p.(type) {
			case *Ack:
				c := *q
				p = &c
			case *Publish:
				c := *q
				p = &c
			}
			out = append(out, readResult{pkt: norm(p)})
		}
		if len(out) >= 64 {
			return out
		}
		if len(data) == 0 {
			if f.Buffered() > 0 {
				out = append(out, readResult{err: io.ErrUnexpectedEOF.Error()})
			}
			f.Release()
			return out
		}
		sp := f.Space()
		if len(sp) == 0 {
			panic("Space empty after Next returned nil")
		}
		n := len(sp)
		if len(pieces) > 0 {
			n = min(n, pieces[i%len(pieces)])
			i++
		}
		n = copy(sp, data[:min(n, len(data))])
		f.Commit(n)
		data = data[n:]
	}
}

// sameFraming compares a Framer's results with a Reader's. They differ
// only where the stream ends inside a packet: the Reader then reports
// io.ErrUnexpectedEOF, the Framer, which checks every fixed header before
// waiting for the body, may already have refused the packet's flags.
func sameFraming(t *testing.T, name string, reader, framer []readResult) {
	t.Helper()
	if n := len(reader); n > 0 && reader[n-1].err == io.ErrUnexpectedEOF.Error() &&
		len(framer) == n && framer[n-1].err != "" {
		reader, framer = reader[:n-1], framer[:n-1]
	}
	if !reflect.DeepEqual(reader, framer) {
		t.Fatalf("%s: Framer differs from Reader:\nreader %v\nframer %v", name, reader, framer)
	}
}

func TestFramerSplits(t *testing.T) {
	for _, v := range allV {
		raw, want := stream(v)
		for _, pieces := range [][]int{nil, {1}, {2}, {3, 7}, {1000}} {
			got := frameAll(raw, v, 0, pieces)
			if len(got) != len(want) {
				t.Fatalf("%s pieces %v: %d packets, want %d: %v", v, pieces, len(got), len(want), got)
			}
			for i := range want {
				if got[i].err != "" {
					t.Fatalf("%s pieces %v: packet %d: %s", v, pieces, i, got[i].err)
				}
				requireSamePacket(t, got[i].pkt, want[i])
			}
		}
	}
}

// A packet larger than the buffer is gathered on its own, and the
// packets after it in the same pieces still come out.
func TestFramerLargePacket(t *testing.T) {
	for _, size := range []int{frameBufSize - 10, frameBufSize, frameBufSize + 1, 200 << 10, 1 << 20} {
		pub := &Publish{Topic: "a/b", Payload: bytes.Repeat([]byte{7}, size), QoS: 1, PacketID: 9}
		raw, err := Append(nil, pub, V311)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, 0xc0, 0x00) // PINGREQ after it
		for _, pieces := range [][]int{nil, {1 << 10}, {3}, {70 << 10}} {
			if pieces != nil && pieces[0] == 3 && size > 300<<10 {
				continue // slow
			}
			got := frameAll(raw, V311, 0, pieces)
			if len(got) != 2 || got[0].err != "" || got[1].err != "" {
				t.Fatalf("size %d pieces %v: %v", size, pieces, got)
			}
			p := got[0].pkt.(*Publish)
			if len(p.Payload) != size || p.Topic != "a/b" || p.PacketID != 9 {
				t.Fatalf("size %d: got topic %q id %d payload %d", size, p.Topic, p.PacketID, len(p.Payload))
			}
			if _, ok := got[1].pkt.(*Pingreq); !ok {
				t.Fatalf("size %d: second packet %v", size, got[1])
			}
		}
	}
}

// A peer that announces a huge packet and sends little costs only what
// it sent (rounded up to the first growth step).
func TestFramerNoGrowthWithoutBytes(t *testing.T) {
	f := NewFramer(0)
	hdr := []byte{0x30, 0xff, 0xff, 0xff, 0x7f} // PUBLISH of 268435455 bytes
	sp := f.Space()
	f.Commit(copy(sp, hdr))
	if p, err := f.Next(); p != nil || err != nil {
		t.Fatalf("Next = %v, %v", p, err)
	}
	sp = f.Space()
	if len(sp) > 64<<10 {
		t.Fatalf("Space offers %d bytes before any body byte arrived", len(sp))
	}
	if f.big == nil {
		t.Fatal("no big packet being gathered")
	}
	if c := cap(f.big.body); c > 64<<10 {
		t.Fatalf("body capacity %d after the header only", c)
	}
}

// The Framer every connection on the broker's event loop has while it
// is busy is 64 bytes, a Go size class of its own among what a connection
// keeps (issue 17; bigPacket).
func TestFramerSize(t *testing.T) {
	if n := unsafe.Sizeof(Framer{}); n > 64 {
		t.Errorf("Framer is %d bytes, above the 64-byte size class", n)
	}
}

func TestFramerTooLarge(t *testing.T) {
	for _, max := range []uint32{10, 100} {
		pub := &Publish{Topic: "t", Payload: make([]byte, int(max)), QoS: 0}
		raw, _ := Append(nil, pub, V311)
		f := NewFramer(max)
		f.Commit(copy(f.Space(), raw[:2]))
		_, err := f.Next()
		if !errors.Is(err, ErrPacketTooLarge) {
			t.Fatalf("max %d: %v, want ErrPacketTooLarge", max, err)
		}
		if _, err2 := f.Next(); err2 != err {
			t.Fatalf("error not sticky: %v", err2)
		}
		if len(f.Space()) != 0 {
			t.Fatal("Space offered after a framing error")
		}
	}
	// At the exact limit it passes.
	pub := &Publish{Topic: "t", Payload: []byte("xy")}
	raw, _ := Append(nil, pub, V311)
	got := frameAll(raw, V311, uint32(len(raw)), nil)
	if len(got) != 1 || got[0].err != "" {
		t.Fatalf("at the limit: %v", got)
	}
}

// Each complete packet comes out as soon as its last byte is pushed, even
// when the next packet's first byte came with it ([MQTT-3.12.4-1] for a
// broker: PINGRESP at once).
func TestFramerAnswersAtOnce(t *testing.T) {
	f := NewFramer(0)
	f.Commit(copy(f.Space(), []byte{0xc0, 0x00, 0xc0}))
	p, err := f.Next()
	if _, ok := p.(*Pingreq); !ok || err != nil {
		t.Fatalf("Next = %v, %v; want PINGREQ", p, err)
	}
	if p, err := f.Next(); p != nil || err != nil {
		t.Fatalf("second Next = %v, %v; want nothing yet", p, err)
	}
	if f.Buffered() != 1 {
		t.Fatalf("Buffered = %d", f.Buffered())
	}
}

// An idle Framer holds no buffer; decoding a PUBACK allocates nothing and
// a PUBLISH one body.
func TestFramerAllocs(t *testing.T) {
	ack, _ := Append(nil, &Ack{Kind: PUBACK, PacketID: 3}, V311)
	pub, _ := Append(nil, &Publish{Topic: "a/b", Payload: []byte("hello"), QoS: 1, PacketID: 4}, V311)
	f := NewFramer(0)
	run := func(raw []byte) {
		f.Commit(copy(f.Space(), raw))
		if p, err := f.Next(); p == nil || err != nil {
			t.Fatalf("Next = %v, %v", p, err)
		}
		f.Release()
	}
	run(ack)
	if f.fb != nil {
		t.Fatal("buffer kept after Release with nothing buffered")
	}
	if n := testing.AllocsPerRun(200, func() { run(ack) }); n != 0 {
		t.Fatalf("PUBACK: %v allocations", n)
	}
	if n := testing.AllocsPerRun(200, func() { run(pub) }); n > 1 {
		t.Fatalf("PUBLISH: %v allocations, want 1", n)
	}
}

func TestFramerMatchesReaderOnCases(t *testing.T) {
	for _, v := range allV {
		raw, _ := stream(v)
		for _, c := range badCases {
			data := append(append([]byte{}, raw...), c.raw...)
			sameFraming(t, v.String(), readAll(bytes.NewReader(data), v), frameAll(data, v, 1<<16, []int{5}))
		}
	}
}

// FuzzFramer: a Framer fed in any pieces frames exactly as the Reader.
func FuzzFramer(f *testing.F) {
	for _, v := range allV {
		raw, _ := stream(v)
		f.Add(raw, byte(v-3))
	}
	seedPackets(f)
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		v := fuzzVersion(vb)
		piece := vb / 3 // the version takes vb%3
		want := readAll(bytes.NewReader(data), v)
		sameFraming(t, "whole", want, frameAll(data, v, 1<<16, nil))
		sameFraming(t, "pieces", want, frameAll(data, v, 1<<16, []int{int(piece%17) + 1}))
	})
}

func TestFramerHolds(t *testing.T) {
	mask := uint16(1<<SUBSCRIBE | 1<<UNSUBSCRIBE)
	f := NewFramer(0)
	if f.Holds(mask) {
		t.Fatal("empty framer holds a packet")
	}
	var in []byte
	in, _ = Append(in, &Ack{Kind: PUBACK, PacketID: 1}, V311)
	in, _ = Append(in, &Publish{Topic: "a", Payload: []byte("x")}, V311)
	sub, _ := Append(nil, &Subscribe{PacketID: 2, Subscriptions: []Subscription{{Filter: "t"}}}, V311)
	push := func(b []byte) { f.Commit(copy(f.Space(), b)) }
	push(in)
	if f.Holds(mask) {
		t.Fatal("PUBACK+PUBLISH reported as holding a SUBSCRIBE")
	}
	if !f.Holds(1 << PUBLISH) {
		t.Fatal("PUBLISH not found")
	}
	push(sub[:len(sub)-1])
	if f.Holds(mask) {
		t.Fatal("incomplete SUBSCRIBE reported")
	}
	push(sub[len(sub)-1:])
	if !f.Holds(mask) {
		t.Fatal("complete SUBSCRIBE not found")
	}
	// Holds consumes nothing: the packets come out in order.
	for _, want := range []PacketType{PUBACK, PUBLISH, SUBSCRIBE} {
		p, err := f.Next()
		if err != nil || p == nil || p.Type() != want {
			t.Fatalf("Next = %v, %v; want %s", p, err, want)
		}
	}
	if f.Holds(mask) {
		t.Fatal("holds a SUBSCRIBE after it was consumed")
	}
}

// TestFramerBufferSizes: a Framer borrows a small buffer first, moves to a
// large one when input fills it, starts large next time, and goes back to
// small once its input fits the small buffer again; packets come out
// whole and in order throughout.
func TestFramerBufferSizes(t *testing.T) {
	f := NewFramer(0)
	push := func(b []byte) {
		t.Helper()
		for len(b) > 0 {
			sp := f.Space()
			if len(sp) == 0 {
				t.Fatal("no space")
			}
			n := copy(sp, b)
			f.Commit(n)
			b = b[n:]
		}
	}
	next := func(wantPayload int) {
		t.Helper()
		p, err := f.Next()
		if err != nil || p == nil {
			t.Fatalf("Next = %v, %v", p, err)
		}
		if got := len(p.(*Publish).Payload); got != wantPayload {
			t.Fatalf("payload %d bytes, want %d", got, wantPayload)
		}
	}
	pub := func(n int) []byte {
		b, _ := Append(nil, &Publish{Topic: "t", Payload: make([]byte, n)}, V311)
		return b
	}
	push(pub(10))
	if len(f.fb.b) != frameSmallSize {
		t.Fatalf("first buffer %d bytes, want %d", len(f.fb.b), frameSmallSize)
	}
	next(10)
	f.Release()
	push(pub(5000)) // outgrows the small buffer
	next(5000)
	if len(f.fb.b) != frameBufSize {
		t.Fatalf("buffer %d bytes after a 5000-byte packet, want %d", len(f.fb.b), frameBufSize)
	}
	f.Release()
	push(pub(10))
	if len(f.fb.b) != frameBufSize {
		t.Fatalf("buffer %d bytes right after a large input, want %d", len(f.fb.b), frameBufSize)
	}
	next(10)
	f.Release() // its input fitted the small buffer
	push(pub(10))
	if len(f.fb.b) != frameSmallSize {
		t.Fatalf("buffer %d bytes after small input, want %d again", len(f.fb.b), frameSmallSize)
	}
	next(10)
}

// TestFramerNextAlloc: a PUBLISH body that arrived in one buffer is
// copied into what the allocator returns (its topic and payload point
// there); other packets do not use the allocator.
func TestFramerNextAlloc(t *testing.T) {
	pub, _ := Append(nil, &Publish{Topic: "a/b", Payload: []byte("hello"), QoS: 1, PacketID: 7}, V311)
	ack, _ := Append(nil, &Ack{Kind: PUBACK, PacketID: 7}, V311)
	f := NewFramer(0)
	n := copy(f.Space(), append(pub, ack...))
	f.Commit(n)
	var given []byte
	calls := 0
	alloc := func(n int) []byte {
		calls++
		given = make([]byte, n)
		return given
	}
	p, err := f.NextAlloc(alloc)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := p.(*Publish)
	if !ok || got.Topic != "a/b" || string(got.Payload) != "hello" || got.PacketID != 7 {
		t.Fatalf("got %#v", p)
	}
	if calls != 1 || &given[len(given)-1] != &got.Payload[len(got.Payload)-1] {
		t.Errorf("the payload is not in the allocator's buffer (%d calls)", calls)
	}
	f.Release() // the buffer may be reused: the packet must not depend on it
	if string(got.Payload) != "hello" {
		t.Errorf("payload changed after Release: %q", got.Payload)
	}
	if p, err := f.NextAlloc(alloc); err != nil || p == nil || calls != 1 {
		t.Errorf("PUBACK: %v %v, %d allocator calls, want 1", p, err, calls)
	}
}
