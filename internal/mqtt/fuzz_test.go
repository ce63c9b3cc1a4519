package mqtt

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// fuzzVersion maps a fuzzer byte onto the three protocol levels.
func fuzzVersion(b byte) Version { return Version(3 + b%3) }

func seedPackets(f *testing.F) {
	for _, c := range packetCases {
		for _, v := range c.vs {
			f.Add(c.raw, byte(v-3))
		}
	}
	for _, c := range badCases {
		f.Add(c.raw, byte(c.vs[0]-3))
	}
}

// FuzzDecode: Decode never panics; every error carries a reason code; a
// decoded packet re-encodes (Append accepts what Decode accepted), Size
// agrees with the encoding, and decoding the encoding gives the same packet.
func FuzzDecode(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		v := fuzzVersion(vb)
		p, err := Decode(data, v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Code.IsError() {
				t.Fatalf("Decode error %q carries no reason code", err)
			}
			if p != nil {
				t.Fatalf("Decode returned a packet with error %v", err)
			}
			return
		}
		enc, err := Append(nil, p, v)
		if err != nil {
			t.Fatalf("Append refused a decoded packet %s: %v", Describe(p), err)
		}
		if n := Size(p, v); n != len(enc) {
			t.Fatalf("Size = %d, Append wrote %d", n, len(enc))
		}
		p2, err := Decode(enc, v)
		if err != nil {
			t.Fatalf("re-decode of % x (%s): %v", enc, Describe(p), err)
		}
		if !reflect.DeepEqual(norm(p), norm(p2)) {
			t.Fatalf("round trip changed the packet\n in: % x\nout: % x\n %s\n %s", data, enc, Describe(p), Describe(p2))
		}
		enc2, err := Append(nil, p2, v)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: % x vs % x (%v)", enc, enc2, err)
		}
	})
}

type readResult struct {
	pkt Packet
	err string
}

// readAll reads up to 64 packets; packets are described immediately since
// Reader-owned structs are only valid until the next read.
func readAll(r io.Reader, v Version) []readResult {
	rd := NewReader(r, 1<<16)
	rd.Version = v
	var out []readResult
	for i := 0; i < 64; i++ {
		p, err := rd.ReadPacket()
		if err != nil {
			if err == io.EOF {
				return out
			}
			return append(out, readResult{err: err.Error()})
		}
		// Copy reader-owned values before the next read.
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
	return out
}

// FuzzReadPacket: the Reader gives the same packets and errors whether the
// stream arrives whole, one byte at a time or in halves (split reads), and
// whatever it accepts Decode accepts too.
func FuzzReadPacket(f *testing.F) {
	for _, v := range allV {
		raw, _ := stream(v)
		f.Add(raw, byte(v-3))
	}
	seedPackets(f)
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		v := fuzzVersion(vb)
		whole := readAll(bytes.NewReader(data), v)
		for name, r := range map[string]io.Reader{
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			split := readAll(r, v)
			if !reflect.DeepEqual(whole, split) {
				t.Fatalf("%s reader differs:\nwhole %v\nsplit %v", name, whole, split)
			}
		}
		// Decode agrees on the first packet when it is framed completely.
		if len(whole) > 0 && whole[0].pkt != nil {
			n, hl, err := decodeVarint(data[1:])
			if err != nil {
				t.Fatalf("Reader accepted a packet whose length Decode rejects: %v", err)
			}
			p, err := Decode(data[:1+hl+int(n)], v)
			if err != nil {
				t.Fatalf("Reader accepted %s, Decode: %v", Describe(whole[0].pkt), err)
			}
			if !reflect.DeepEqual(norm(p), whole[0].pkt) {
				t.Fatalf("Reader %s, Decode %s", Describe(whole[0].pkt), Describe(p))
			}
		}
	})
}

// matchIter is a second, independent matcher (iterative, level by level
// with strings.Cut) used as an oracle for MatchTopic.
func matchIter(f, t string) bool {
	if t != "" && t[0] == '$' && f != "" && (f[0] == '+' || f[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := strings.Cut(f, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(t, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "sport/#" matches "sport"
		}
		f, t = frest, trest
	}
}

// FuzzMatch: MatchTopic agrees with matchIter for valid filters and topic
// names, and a few properties hold: a topic matches itself; '#' matches
// every topic not starting with '$'; appending "/#" to a filter never
// loses a match.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.filter, c.topic)
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidTopicName(topic) != nil {
			return
		}
		if !MatchTopic(topic, topic) {
			t.Fatalf("topic %q does not match itself", topic)
		}
		if got := MatchTopic("#", topic); got != (topic[0] != '$') {
			t.Fatalf("MatchTopic(#, %q) = %v", topic, got)
		}
		if ValidTopicFilter(filter) != nil {
			return
		}
		if _, inner, ok, _ := ParseShared(filter); ok {
			filter = inner
		}
		got := MatchTopic(filter, topic)
		if want := matchIter(filter, topic); got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, oracle says %v", filter, topic, got, want)
		}
		if got && !strings.HasSuffix(filter, "#") && !MatchTopic(filter+"/#", topic) {
			t.Fatalf("%q matches %q but %q does not", filter, topic, filter+"/#")
		}
	})
}
