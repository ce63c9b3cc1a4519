package mqtt

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// stream concatenates the canonical cases valid for version v.
func stream(v Version) (raw []byte, want []Packet) {
	for _, c := range packetCases {
		for _, cv := range c.vs {
			if cv == v {
				raw = append(raw, c.raw...)
				want = append(want, c.pkt)
			}
		}
	}
	return raw, want
}

func TestReaderSplitReads(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data+err", iotest.DataErrReader},
	}
	for _, v := range allV {
		raw, want := stream(v)
		for _, w := range wrappers {
			t.Run(v.String()+"/"+w.name, func(t *testing.T) {
				r := NewReader(w.wrap(bytes.NewReader(raw)), 0)
				r.Version = v
				for i, wp := range want {
					p, err := r.ReadPacket()
					if err != nil {
						t.Fatalf("packet %d (%s): %v", i, Describe(wp), err)
					}
					// Reader-owned packets are valid until the next read:
					// compare now.
					requireSamePacket(t, p, wp)
				}
				if p, err := r.ReadPacket(); err != io.EOF {
					t.Fatalf("after the last packet: %v, %v; want io.EOF", p, err)
				}
			})
		}
	}
}

// A Reader with Version 0 decodes CONNECT by its own level and everything
// else as 3.1.1.
func TestReaderVersionZero(t *testing.T) {
	raw := hx("10 12 00 04", "'MQTT", "05 42 00 00 00 00 01", "'x", "00 02", "'pw", "40 02 00 07", "40 03 00 07 10")
	r := NewReader(bytes.NewReader(raw), 0)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.(*Connect); !ok || c.Version != V5 {
		t.Fatalf("got %s, want a v5 CONNECT", Describe(p))
	}
	if r.Version != 0 {
		t.Fatalf("ReadPacket changed Version to %v", r.Version)
	}
	if p, err = r.ReadPacket(); err != nil || p.(*Ack).PacketID != 7 {
		t.Fatalf("PUBACK: %v %v", p, err)
	}
	// A v5 PUBACK with a reason code is a 3.1.1 PUBACK with a trailing byte.
	_, err = r.ReadPacket()
	requireCodecError(t, err, ErrTrailingBytes, MalformedPacket)
}

// failAfter yields its data, then fails the test if it is read again: a
// Reader that rejects a packet from its fixed header must not touch the body.
type failAfter struct {
	t    *testing.T
	data []byte
}

func (f *failAfter) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		f.t.Errorf("Reader read past the fixed header of an oversized packet")
		return 0, io.ErrClosedPipe
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReaderTooLarge(t *testing.T) {
	tests := []struct {
		name   string
		max    uint32
		header []byte
	}{
		{"256 MB publish, max 1 KiB", 1024, hx("30 ff ff ff 7f")},
		{"256 MB subscribe, max 1 KiB", 1024, hx("82 ff ff ff 7f")},
		{"1 KiB + 1", 1024, hx("30 fe 07")}, // remaining 1022: 1 + 2 + 1022 = 1025
		{"connect over 100 bytes", 100, hx("10 80 01")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(&failAfter{t: t, data: tt.header}, tt.max)
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			_, err := r.ReadPacket()
			runtime.ReadMemStats(&ms1)
			requireCodecError(t, err, ErrPacketTooLarge, PacketTooLarge)
			if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 64<<10 {
				t.Fatalf("rejecting the packet allocated %d bytes", d)
			}
			// Reading stops: the stream is not resynchronised on the body.
			_, err = r.ReadPacket()
			requireCodecError(t, err, ErrPacketTooLarge, PacketTooLarge)
		})
	}
}

func TestReaderMaxSizeBoundary(t *testing.T) {
	p := &Publish{Topic: "a/b", Payload: make([]byte, 100)}
	enc, _ := Append(nil, p, V311) // 1 + 1 + 105 = 107 bytes
	if len(enc) != 107 {
		t.Fatalf("encoded %d bytes", len(enc))
	}
	if _, err := NewReader(bytes.NewReader(enc), 107).ReadPacket(); err != nil {
		t.Fatalf("packet of exactly the maximum size: %v", err)
	}
	_, err := NewReader(bytes.NewReader(enc), 106).ReadPacket()
	requireCodecError(t, err, ErrPacketTooLarge, PacketTooLarge)
	r := NewReader(bytes.NewReader(append(enc, enc...)), 0)
	r.SetMaxSize(106)
	_, err = r.ReadPacket()
	requireCodecError(t, err, ErrPacketTooLarge, PacketTooLarge)
}

// A peer may announce the protocol maximum (256 MB) and then send nothing:
// with no configured limit the Reader must still not allocate the whole
// body up front.
func TestReaderAnnouncedButNotSent(t *testing.T) {
	r := NewReader(bytes.NewReader(hx("30 ff ff ff 7f 00 03", "'a/b", "'some payload")), 0)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	_, err := r.ReadPacket()
	runtime.ReadMemStats(&ms1)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 8<<20 {
		t.Fatalf("a 20-byte stream announcing 256 MB allocated %d MB", d>>20)
	}
}

func TestReaderEOF(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"type byte only", hx("30"), io.ErrUnexpectedEOF},
		{"inside remaining length", hx("30 80"), io.ErrUnexpectedEOF},
		{"inside body", hx("30 0a 00 03", "'a/b"), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.raw), 0).ReadPacket()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Every malformed case fails the same way through the Reader as through
// Decode (except that data missing at the end of the stream is an
// unexpected EOF rather than a short buffer).
func TestReaderMalformed(t *testing.T) {
	for _, c := range badCases {
		for _, v := range c.vs {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				if n, hl, err := decodeVarint(c.raw[min(1, len(c.raw)):]); err == nil && 1+hl+int(n) < len(c.raw) {
					return // a complete packet followed by the start of the next one
				}
				r := NewReader(iotest.OneByteReader(bytes.NewReader(c.raw)), 0)
				r.Version = v
				_, err := r.ReadPacket()
				if errors.Is(err, io.ErrUnexpectedEOF) && c.err == ErrShortBuffer {
					return
				}
				requireCodecError(t, err, c.err, c.wantCode())
			})
		}
	}
}

// The Reader reuses its PUBACK (and PUBLISH) struct, but a PUBLISH's
// topic, payload and properties live in their own buffer and survive the
// next ReadPacket.
func TestReaderOwnership(t *testing.T) {
	raw := hx("40 02 00 01", "40 02 00 02",
		"32 11 00 03", "'a/b", "00 01 06 03 00 03", "'c/t", "'one",
		"32 11 00 03", "'x/y", "00 02 06 03 00 03", "'d/t", "'two")
	r := NewReader(bytes.NewReader(raw), 0)
	r.Version = V5
	a1, _ := r.ReadPacket()
	a2, _ := r.ReadPacket()
	if a1 != a2 || a2.(*Ack).PacketID != 2 {
		t.Fatalf("acks: %p %p %s", a1, a2, Describe(a2))
	}
	p1, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	pub := p1.(*Publish)
	topic, payload, ct := pub.Topic, pub.Payload, pub.Props.ContentType
	if _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if topic != "a/b" || string(payload) != "one" || ct != "c/t" {
		t.Fatalf("first PUBLISH fields changed by the next read: %q %q %q", topic, payload, ct)
	}
}
