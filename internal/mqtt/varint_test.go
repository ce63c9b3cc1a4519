package mqtt

import (
	"bytes"
	"errors"
	"testing"
)

// Variable byte integer boundaries (3.1.1 section 2.2.3, 5.0 section 1.5.5).
var varintCases = []struct {
	v   uint32
	enc []byte
}{
	{0, hx("00")},
	{1, hx("01")},
	{127, hx("7f")},
	{128, hx("80 01")},
	{16383, hx("ff 7f")},
	{16384, hx("80 80 01")},
	{2097151, hx("ff ff 7f")},
	{2097152, hx("80 80 80 01")},
	{268435455, hx("ff ff ff 7f")},
}

func TestVarint(t *testing.T) {
	for _, c := range varintCases {
		if got := appendVarint([]byte{9}, c.v); !bytes.Equal(got, append([]byte{9}, c.enc...)) {
			t.Errorf("appendVarint(%d) = % x, want % x", c.v, got[1:], c.enc)
		}
		if n := varintSize(c.v); n != len(c.enc) {
			t.Errorf("varintSize(%d) = %d, want %d", c.v, n, len(c.enc))
		}
		v, n, err := decodeVarint(append(c.enc, 0xee)) // trailing data is not read
		if err != nil || v != c.v || n != len(c.enc) {
			t.Errorf("decodeVarint(% x) = %d, %d, %v; want %d, %d", c.enc, v, n, err, c.v, len(c.enc))
		}
	}
}

func TestVarintMalformed(t *testing.T) {
	tests := []struct {
		in   []byte
		want *Error
	}{
		{hx("ff ff ff ff 7f"), ErrMalformedVarInt}, // fifth byte
		{hx("80 80 80 80 01"), ErrMalformedVarInt},
		{hx("ff ff ff ff"), ErrMalformedVarInt}, // continuation bit on the fourth byte
		{hx(""), ErrShortBuffer},
		{hx("80"), ErrShortBuffer},
		{hx("ff ff ff"), ErrShortBuffer},
	}
	for _, tt := range tests {
		_, _, err := decodeVarint(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("decodeVarint(% x) = %v, want %v", tt.in, err, tt.want)
		}
		if CodeOf(err) != MalformedPacket {
			t.Errorf("decodeVarint(% x): CodeOf = %v", tt.in, CodeOf(err))
		}
	}
}

// TestRemainingLengthBoundaries encodes PUBLISH packets whose remaining
// length sits on each one/two/three byte boundary and checks the fixed
// header bytes, Size, Decode and the Reader.
func TestRemainingLengthBoundaries(t *testing.T) {
	for _, c := range varintCases {
		if c.v < 5 || c.v > 2097152 {
			continue // a PUBLISH needs 5 bytes of topic; 256 MB is too big for a unit test
		}
		p := &Publish{Topic: "a/b", Payload: make([]byte, c.v-5)}
		enc, err := Append(nil, p, V311)
		if err != nil {
			t.Fatal(err)
		}
		if want := append([]byte{0x30}, c.enc...); !bytes.Equal(enc[:len(want)], want) {
			t.Fatalf("rl %d: header % x, want % x", c.v, enc[:len(want)], want)
		}
		if Size(p, V311) != len(enc) || len(enc) != 1+len(c.enc)+int(c.v) {
			t.Fatalf("rl %d: Size %d, encoded %d", c.v, Size(p, V311), len(enc))
		}
		got, err := Decode(enc, V311)
		if err != nil {
			t.Fatalf("rl %d: Decode: %v", c.v, err)
		}
		requireSamePacket(t, got, p)
		got, err = NewReader(bytes.NewReader(enc), 0).ReadPacket()
		if err != nil {
			t.Fatalf("rl %d: ReadPacket: %v", c.v, err)
		}
		requireSamePacket(t, got, p)
	}
}
