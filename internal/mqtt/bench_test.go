package mqtt

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// Allocation budget (guarded by TestAllocBudget, measured by the
// benchmarks below with -benchmem):
//
//   - Append of any packet into a dst with enough capacity: 0.
//   - Reader, PUBACK/PUBREC/PUBREL/PUBCOMP, PINGREQ, PINGRESP: 0 (the
//     Reader reuses its structs; valid until the next ReadPacket).
//   - Reader, PUBLISH: 1, the body buffer; topic, payload and string
//     properties point into it. User Properties and Subscription
//     Identifiers add their slices (and user property strings).
//   - Decode (from a caller's buffer), PUBLISH: 2, the *Publish and the
//     topic string (strings are copied so they do not alias b).
const (
	budgetReaderPublish = 1
	budgetDecodePublish = 2
)

// loopReader returns its data over and over: an endless stream of one
// packet for Reader benchmarks.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.data[l.off:])
		n += c
		l.off = (l.off + c) % len(l.data)
	}
	return n, nil
}

var benchVersions = []Version{V311, V5}

func benchPublish(size int) *Publish {
	return &Publish{Topic: "sensors/room1/temperature", Payload: bytes.Repeat([]byte{'x'}, size), QoS: 1, PacketID: 42}
}

func BenchmarkEncodePublish(b *testing.B) {
	for _, v := range benchVersions {
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", v, size), func(b *testing.B) {
				p := benchPublish(size)
				dst := make([]byte, 0, Size(p, v))
				b.ReportAllocs()
				b.SetBytes(int64(Size(p, v)))
				for b.Loop() {
					var err error
					if dst, err = Append(dst[:0], p, v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, v := range benchVersions {
		for _, size := range []int{64, 1024} {
			raw, _ := Append(nil, benchPublish(size), v)
			b.Run(fmt.Sprintf("Decode/%s/%dB", v, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, err := Decode(raw, v); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("Reader/%s/%dB", v, size), func(b *testing.B) {
				r := NewReader(&loopReader{data: raw}, 0)
				r.Version = v
				b.ReportAllocs()
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, err := r.ReadPacket(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkPuback(b *testing.B) {
	for _, v := range benchVersions {
		ack := &Ack{Kind: PUBACK, PacketID: 7}
		raw, _ := Append(nil, ack, v)
		b.Run("Encode/"+v.String(), func(b *testing.B) {
			dst := make([]byte, 0, 16)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = Append(dst[:0], ack, v)
			}
		})
		b.Run("Reader/"+v.String(), func(b *testing.B) {
			r := NewReader(&loopReader{data: raw}, 0)
			r.Version = v
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocBudget fails when the codec allocates more than documented
// above: a PUBACK (or PINGREQ) encode + Reader decode round trip must not
// allocate, and PUBLISH decoding must stay within its budget.
func TestAllocBudget(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		for _, p := range []Packet{
			&Ack{Kind: PUBACK, PacketID: 7},
			&Ack{Kind: PUBREL, PacketID: 7},
			&Ack{Kind: PUBACK, PacketID: 7, Code: NoMatchingSubscribers},
			&Pingreq{},
			&Pingresp{},
		} {
			t.Run(fmt.Sprintf("round trip %s %s", Describe(p), v), func(t *testing.T) {
				src := bytes.NewReader(nil)
				r := NewReader(src, 0)
				r.Version = v
				enc := make([]byte, 0, 64)
				allocs := testing.AllocsPerRun(200, func() {
					var err error
					if enc, err = Append(enc[:0], p, v); err != nil {
						t.Fatal(err)
					}
					src.Reset(enc)
					got, err := r.ReadPacket()
					if err != nil || got.Type() != p.Type() {
						t.Fatalf("ReadPacket = %v, %v", got, err)
					}
				})
				if allocs != 0 {
					t.Fatalf("%s encode + ReadPacket allocates %.1f times, want 0", Describe(p), allocs)
				}
			})
		}
		for _, size := range []int{0, 64, 1024, 64 << 10} {
			p := benchPublish(size)
			raw, err := Append(nil, p, v)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("publish %dB %s", size, v), func(t *testing.T) {
				src := bytes.NewReader(nil)
				r := NewReader(src, 0)
				r.Version = v
				if allocs := testing.AllocsPerRun(100, func() {
					src.Reset(raw)
					if _, err := r.ReadPacket(); err != nil {
						t.Fatal(err)
					}
				}); allocs > budgetReaderPublish {
					t.Errorf("Reader PUBLISH allocates %.1f times, budget %d", allocs, budgetReaderPublish)
				}
				if allocs := testing.AllocsPerRun(100, func() {
					if _, err := Decode(raw, v); err != nil {
						t.Fatal(err)
					}
				}); allocs > budgetDecodePublish {
					t.Errorf("Decode PUBLISH allocates %.1f times, budget %d", allocs, budgetDecodePublish)
				}
				dst := make([]byte, 0, len(raw))
				if allocs := testing.AllocsPerRun(100, func() {
					dst, _ = Append(dst[:0], p, v)
				}); allocs != 0 {
					t.Errorf("Append PUBLISH allocates %.1f times, want 0", allocs)
				}
			})
		}
	}
}

var _ io.Reader = (*loopReader)(nil)
