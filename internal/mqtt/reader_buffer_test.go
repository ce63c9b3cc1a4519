package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// mixedStream returns packets of every size class the Reader treats
// differently: within its small buffer, within the 4 KiB read-ahead
// buffer, across it, bodies decoded in place or in scratch, and PUBLISH
// bodies read straight from the stream.
func mixedStream(t *testing.T, v Version) (raw []byte, want []Packet) {
	t.Helper()
	add := func(p Packet) {
		t.Helper()
		b, err := Append(nil, p, v)
		if err != nil {
			t.Fatalf("Append %s: %v", Describe(p), err)
		}
		raw = append(raw, b...)
		want = append(want, p)
	}
	rnd := rand.New(rand.NewSource(1))
	for i, size := range []int{0, 1, 60, 100, 126, 127, 128, 129, 1000, 4000, 4090, 4096, 4100, 9000, 70000} {
		payload := make([]byte, size)
		rnd.Read(payload)
		add(&Publish{Topic: "t/" + fmt.Sprint(i), Payload: payload, QoS: QoS(i % 3), PacketID: uint16(i % 3)})
		add(&Ack{Kind: PUBACK, PacketID: uint16(i + 1)})
		add(&Pingreq{})
		// A SUBSCRIBE whose body is about size bytes (decoded in place,
		// after moving in the buffer, or in scratch).
		var subs []Subscription
		for n := 0; n <= size; n += 40 {
			subs = append(subs, Subscription{Filter: strings.Repeat("f", 30) + fmt.Sprint(n), QoS: 1})
		}
		add(&Subscribe{PacketID: uint16(i + 1), Subscriptions: subs})
		add(&Ack{Kind: PUBREL, PacketID: uint16(i + 7)})
	}
	return raw, want
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// randomChunks returns reads of random length between 1 and 6000 bytes.
type randomChunks struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *randomChunks) Read(p []byte) (int, error) {
	if n := 1 + c.rnd.Intn(6000); len(p) > n {
		p = p[:n]
	}
	return c.r.Read(p)
}

func TestReaderBufferBoundaries(t *testing.T) {
	sources := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"1", func(r io.Reader) io.Reader { return &chunkReader{r, 1} }},
		{"7", func(r io.Reader) io.Reader { return &chunkReader{r, 7} }},
		{"127", func(r io.Reader) io.Reader { return &chunkReader{r, 127} }},
		{"128", func(r io.Reader) io.Reader { return &chunkReader{r, 128} }},
		{"129", func(r io.Reader) io.Reader { return &chunkReader{r, 129} }},
		{"4095", func(r io.Reader) io.Reader { return &chunkReader{r, 4095} }},
		{"4097", func(r io.Reader) io.Reader { return &chunkReader{r, 4097} }},
		{"random", func(r io.Reader) io.Reader { return &randomChunks{r, rand.New(rand.NewSource(2))} }},
		{"bufio", func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 16<<10) }},
	}
	for _, v := range []Version{V311, V5} {
		raw, want := mixedStream(t, v)
		for _, src := range sources {
			t.Run(v.String()+"/"+src.name, func(t *testing.T) {
				r := NewReader(src.wrap(bytes.NewReader(raw)), 0)
				r.Version = v
				for i, wp := range want {
					if i%3 == 0 {
						// Fill between packets changes nothing.
						if err := r.Fill(); err != nil {
							t.Fatalf("Fill before packet %d: %v", i, err)
						}
						if r.Buffered() == 0 {
							t.Fatalf("Fill returned with nothing buffered")
						}
					}
					p, err := r.ReadPacket()
					if err != nil {
						t.Fatalf("packet %d (%s): %v", i, Describe(wp), err)
					}
					requireSamePacket(t, p, wp)
				}
				if err := r.Fill(); err != io.EOF {
					t.Fatalf("Fill at the end: %v, want io.EOF", err)
				}
				if p, err := r.ReadPacket(); err != io.EOF {
					t.Fatalf("after the last packet: %v, %v; want io.EOF", p, err)
				}
			})
		}
	}
}

// probeReader serves one chunk per Read and records, for every Read,
// whether the Reader held its borrowed state and how much room it offered.
type probeReader struct {
	r      *Reader
	chunks [][]byte
	calls  []probe
}

type probe struct {
	borrowed bool
	room     int
}

func (p *probeReader) Read(b []byte) (int, error) {
	p.calls = append(p.calls, probe{borrowed: p.r.st != nil, room: len(b)})
	if len(p.chunks) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, p.chunks[0])
	if p.chunks[0] = p.chunks[0][n:]; len(p.chunks[0]) == 0 {
		p.chunks = p.chunks[1:]
	}
	return n, nil
}

// An idle Reader (waiting for the next packet with nothing buffered) holds
// no borrowed buffer, reads into its small one, and a timeout there is not
// sticky; a packet larger than the small buffer continues in the borrowed
// one.
func TestReaderIdleHoldsNoBuffer(t *testing.T) {
	big := &Publish{Topic: "a/b", Payload: bytes.Repeat([]byte{'x'}, 1000)}
	bigRaw, _ := Append(nil, big, V311)
	pingRaw, _ := Append(nil, &Pingreq{}, V311)
	probeSrc := &probeReader{chunks: [][]byte{pingRaw, bigRaw, pingRaw}}
	r := NewReader(probeSrc, 0)
	probeSrc.r = r
	steps := []struct {
		name string
		op   func() error
		want []probe // the Reads this step makes
	}{
		{"Fill for PINGREQ", r.Fill, []probe{{false, smallBufSize}}},
		{"PINGREQ", func() error { return expectType(r, PINGREQ) }, nil},
		{"Fill for PUBLISH", r.Fill, []probe{{false, smallBufSize}}},
		// The rest of the body is read through the borrowed buffer.
		{"PUBLISH", func() error { return expectType(r, PUBLISH) }, []probe{{true, readBufSize}}},
		// Nothing buffered: the borrowed state is released before the read.
		{"Fill for PINGREQ again", r.Fill, []probe{{false, smallBufSize}}},
		{"PINGREQ again", func() error { return expectType(r, PINGREQ) }, nil},
		{"Fill times out", func() error {
			if err := r.Fill(); !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("Fill = %v, want a deadline error", err)
			}
			return nil
		}, []probe{{false, smallBufSize}}},
	}
	for _, s := range steps {
		before := len(probeSrc.calls)
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := probeSrc.calls[before:]
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Fatalf("%s: reads %v, want %v", s.name, got, s.want)
		}
	}
	if r.st != nil {
		t.Fatal("the Reader holds its borrowed state while waiting")
	}
	// The timeout was not sticky.
	probeSrc.chunks = [][]byte{pingRaw}
	if err := expectType(r, PINGREQ); err != nil {
		t.Fatal(err)
	}
}

// A read that fills the 4 KiB buffer is taken as a sign of more input:
// the next read goes to the borrowed buffer at once.
func TestReaderBusyReadsAhead(t *testing.T) {
	var raw []byte
	for len(raw) < 3*readBufSize {
		b, _ := Append(nil, &Ack{Kind: PUBACK, PacketID: 1}, V311)
		raw = append(raw, b...)
	}
	probeSrc := &probeReader{chunks: [][]byte{raw}}
	r := NewReader(probeSrc, 0)
	probeSrc.r = r
	for range len(raw) / 4 {
		if err := expectType(r, PUBACK); err != nil {
			t.Fatal(err)
		}
	}
	small := 0
	for _, c := range probeSrc.calls {
		if c.room == smallBufSize && !c.borrowed {
			small++
		}
	}
	if small != 1 || len(probeSrc.calls) > 5 {
		t.Fatalf("reads %v: want one small read, then full 4 KiB reads", probeSrc.calls)
	}
}

func expectType(r *Reader, t PacketType) error {
	p, err := r.ReadPacket()
	if err != nil {
		return err
	}
	if p.Type() != t {
		return fmt.Errorf("got %s, want %s", Describe(p), t)
	}
	return nil
}

// A read error that comes with data is returned after the data.
func TestReaderDataWithError(t *testing.T) {
	raw := hx("c0 00", "40 02 00 05")
	r := NewReader(&dataErr{data: raw, err: os.ErrDeadlineExceeded}, 0)
	if err := expectType(r, PINGREQ); err != nil {
		t.Fatal(err)
	}
	if err := expectType(r, PUBACK); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadPacket(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want the read error", err)
	}
}

type dataErr struct {
	data []byte
	err  error
}

func (d *dataErr) Read(p []byte) (int, error) {
	n := copy(p, d.data)
	d.data = d.data[n:]
	return n, d.err
}

// Buffered counts the caller's bufio.Reader too.
func TestReaderBufferedCountsBufio(t *testing.T) {
	raw := hx("c0 00", "c0 00", "c0 00")
	br := bufio.NewReaderSize(&chunkReader{bytes.NewReader(raw), 4}, 16)
	r := NewReader(br, 0)
	if err := expectType(r, PINGREQ); err != nil {
		t.Fatal(err)
	}
	if n := r.Buffered(); n != 2 {
		t.Fatalf("Buffered = %d after one of three 2-byte packets read in 4-byte chunks", n)
	}
}

// Fill's errors before a packet are not sticky; after an unframed
// stream they are.
func TestReaderFillErrors(t *testing.T) {
	r := NewReader(&dataErr{err: os.ErrDeadlineExceeded}, 0)
	for range 2 {
		if err := r.Fill(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Fill = %v", err)
		}
	}
	r = NewReader(bytes.NewReader(hx("30 ff ff ff ff 01")), 0)
	if _, err := r.ReadPacket(); !errors.Is(err, ErrMalformedVarInt) {
		t.Fatalf("ReadPacket = %v", err)
	}
	if err := r.Fill(); !errors.Is(err, ErrMalformedVarInt) {
		t.Fatalf("Fill after a framing error = %v", err)
	}
}
