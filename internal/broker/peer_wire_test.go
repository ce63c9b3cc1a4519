package broker_test

// wire: a raw MQTT client for the peer and boundary tests. Packets are
// assembled byte by byte from the specification (section 2 and 3 of MQTT
// 3.1.1 and 5.0) and received packets are returned as raw bytes with a
// minimal parser, so the tests check exactly what a third-party suite
// (such as mosquitto's own test/broker/*.py) checks, without the project's
// codec in the loop.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Packet types (fixed header byte, high nibble).
const (
	tCONNECT    = 0x10
	tCONNACK    = 0x20
	tPUBLISH    = 0x30
	tPUBACK     = 0x40
	tPUBREC     = 0x50
	tPUBREL     = 0x62 // with its mandatory flags 0010
	tPUBCOMP    = 0x70
	tSUBSCRIBE  = 0x82
	tSUBACK     = 0x90
	tPINGREQ    = 0xC0
	tPINGRESP   = 0xD0
	tDISCONNECT = 0xE0
)

// Property identifiers (MQTT 5.0 section 2.2.2.2).
const (
	pMessageExpiry     = 0x02
	pSessionExpiry     = 0x11
	pReceiveMaximum    = 0x21
	pTopicAliasMaximum = 0x22
	pTopicAlias        = 0x23
	pMaximumPacketSize = 0x27
	pWillDelay         = 0x18
)

// vbi is a Variable Byte Integer (section 1.5.5 / 2.2.3).
func vbi(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func u16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
func u32(n uint32) []byte {
	return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// str is a UTF-8 Encoded String: two length bytes and the bytes.
func str(s string) []byte { return append(u16(len(s)), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pkt is a control packet: first byte, Remaining Length, body.
func pkt(first byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{first}, vbi(len(b)), b)
}

// props is a v5 property block: its length, then the properties.
func props(p ...[]byte) []byte {
	b := cat(p...)
	return cat(vbi(len(b)), b)
}

func propU16(id byte, v int) []byte    { return cat([]byte{id}, u16(v)) }
func propU32(id byte, v uint32) []byte { return cat([]byte{id}, u32(v)) }

// connectV311 is a 3.1.1 CONNECT with the given client id, clean session
// flag and keep alive (section 3.1).
func connectV311(id string, clean bool, keepAlive int) []byte {
	flags := byte(0)
	if clean {
		flags |= 0x02
	}
	return pkt(tCONNECT, str("MQTT"), []byte{4, flags}, u16(keepAlive), str(id))
}

// willV5 describes the will of a v5 CONNECT.
type willV5 struct {
	topic, payload string
	qos            byte
	props          []byte // property block (props(...)); nil = empty
}

// connectV5 is a 5.0 CONNECT (section 3.1) with CONNECT properties cp
// (props(...); nil = none) and an optional will.
func connectV5(id string, clean bool, keepAlive int, cp []byte, w *willV5) []byte {
	if cp == nil {
		cp = props()
	}
	flags := byte(0)
	if clean {
		flags |= 0x02
	}
	var payload []byte
	payload = append(payload, str(id)...)
	if w != nil {
		flags |= 0x04 | w.qos<<3
		wp := w.props
		if wp == nil {
			wp = props()
		}
		payload = cat(payload, wp, str(w.topic), str(w.payload))
	}
	return pkt(tCONNECT, str("MQTT"), []byte{5, flags}, u16(keepAlive), cp, payload)
}

// publishV311 is a 3.1.1 PUBLISH (pid ignored for QoS 0).
func publishV311(topic string, qos byte, retain bool, pid int, payload string) []byte {
	first := byte(tPUBLISH) | qos<<1
	if retain {
		first |= 1
	}
	var id []byte
	if qos > 0 {
		id = u16(pid)
	}
	return pkt(first, str(topic), id, []byte(payload))
}

// publishV5 is a 5.0 PUBLISH with property block pp (nil = empty).
func publishV5(topic string, qos byte, retain bool, pid int, pp []byte, payload string) []byte {
	first := byte(tPUBLISH) | qos<<1
	if retain {
		first |= 1
	}
	var id []byte
	if qos > 0 {
		id = u16(pid)
	}
	if pp == nil {
		pp = props()
	}
	return pkt(first, str(topic), id, pp, []byte(payload))
}

// subscribeV311 subscribes to one filter (section 3.8).
func subscribeV311(pid int, filter string, qos byte) []byte {
	return pkt(tSUBSCRIBE, u16(pid), str(filter), []byte{qos})
}

// subscribeV5 subscribes to one filter with subscription options opts
// (QoS in bits 0-1) and no properties.
func subscribeV5(pid int, filter string, opts byte) []byte {
	return pkt(tSUBSCRIBE, u16(pid), props(), str(filter), []byte{opts})
}

// ack is a PUBACK/PUBREC/PUBREL/PUBCOMP of packet id pid (the 3.1.1 form,
// also valid in 5.0 for reason code 0 without properties, section 3.4.2.1).
func ack(first byte, pid int) []byte { return pkt(first, u16(pid)) }

// wire is a raw client connection.
type wire struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, s *server) *wire {
	t.Helper()
	return dialWireAddr(t, s.addr())
}

func dialWireAddr(t *testing.T, addr string) *wire {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, peerTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wire{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (w *wire) send(parts ...[]byte) {
	w.t.Helper()
	_ = w.nc.SetWriteDeadline(time.Now().Add(peerTimeout))
	if _, err := w.nc.Write(cat(parts...)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next whole packet (fixed header included).
func (w *wire) read(d time.Duration) ([]byte, error) {
	_ = w.nc.SetReadDeadline(time.Now().Add(d))
	first, err := w.br.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{first}
	n, mul := 0, 1
	for i := 0; ; i++ {
		c, err := w.br.ReadByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, c)
		n += int(c&0x7f) * mul
		mul *= 128
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(w.br, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

// next returns the next packet; it fails the test on a timeout or close.
func (w *wire) next() []byte {
	w.t.Helper()
	p, err := w.read(peerTimeout)
	if err != nil {
		w.t.Fatalf("waiting for a packet: %v", err)
	}
	return p
}

// expect receives the next packet and checks its bytes.
func (w *wire) expect(what string, want []byte) {
	w.t.Helper()
	if got := w.next(); !bytes.Equal(got, want) {
		w.t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// expectType receives the next packet and checks its type nibble.
func (w *wire) expectType(what string, first byte) []byte {
	w.t.Helper()
	got := w.next()
	if got[0]&0xF0 != first&0xF0 {
		w.t.Fatalf("%s: got % x, want a packet of type %02x", what, got, first)
	}
	return got
}

// nothing checks that no packet arrives within d.
func (w *wire) nothing(what string, d time.Duration) {
	w.t.Helper()
	if p, err := w.read(d); err == nil {
		w.t.Fatalf("%s: got % x, want nothing", what, p)
	} else if !isTimeout(err) {
		w.t.Fatalf("%s: connection ended (%v), want it open and silent", what, err)
	}
}

// ping sends PINGREQ and returns the packets received before PINGRESP.
// Both brokers answer in order, so when it returns everything this client
// sent before has been handled.
func (w *wire) ping() [][]byte {
	w.t.Helper()
	w.send([]byte{tPINGREQ, 0})
	var got [][]byte
	for {
		p := w.next()
		if p[0] == tPINGRESP {
			return got
		}
		got = append(got, p)
	}
}

// closed waits up to d for the broker to close the connection and
// returns the packets received before (e.g. a v5 DISCONNECT) and how long
// the close took.
func (w *wire) closed(d time.Duration) ([][]byte, time.Duration) {
	w.t.Helper()
	start := time.Now()
	var got [][]byte
	for {
		p, err := w.read(d - time.Since(start))
		if err == nil {
			got = append(got, p)
			continue
		}
		if isTimeout(err) {
			w.t.Fatalf("connection still open after %v (received % x)", d, got)
		}
		return got, time.Since(start)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connect sends a CONNECT and checks the CONNACK's first bytes: type,
// flags (session present) and return/reason code; it returns the CONNACK.
func (w *wire) connect(p []byte, present bool, code byte) []byte {
	w.t.Helper()
	w.send(p)
	ca := w.expectType("CONNACK", tCONNACK)
	sp := byte(0)
	if present {
		sp = 1
	}
	if len(ca) < 4 || ca[2] != sp || ca[3] != code {
		w.t.Fatalf("CONNACK % x, want session present %d and code 0x%02x", ca, sp, code)
	}
	return ca
}

// pub is a received PUBLISH, parsed.
type pub struct {
	dup, retain bool
	qos         byte
	topic       string
	pid         int
	props       []byte // raw property bytes (v5), without their length
	payload     string
}

// parsePublish splits a raw PUBLISH (v5 when v5 is true).
func parsePublish(t *testing.T, b []byte, v5 bool) pub {
	t.Helper()
	if b[0]&0xF0 != tPUBLISH {
		t.Fatalf("not a PUBLISH: % x", b)
	}
	p := pub{dup: b[0]&8 != 0, qos: b[0] >> 1 & 3, retain: b[0]&1 != 0}
	i := 1
	for b[i]&0x80 != 0 {
		i++
	}
	body := b[i+1:]
	tl := int(binary.BigEndian.Uint16(body))
	p.topic = string(body[2 : 2+tl])
	body = body[2+tl:]
	if p.qos > 0 {
		p.pid = int(binary.BigEndian.Uint16(body))
		body = body[2:]
	}
	if v5 {
		n, mul, j := 0, 1, 0
		for {
			c := body[j]
			n += int(c&0x7f) * mul
			mul *= 128
			j++
			if c&0x80 == 0 {
				break
			}
		}
		p.props = body[j : j+n]
		body = body[j+n:]
	}
	p.payload = string(body)
	return p
}

// prop returns the value bytes of the first property id in a raw
// property list, for the fixed-size properties used here (byte, two and
// four byte integers), and whether it is there.
func prop(t *testing.T, raw []byte, id byte) ([]byte, bool) {
	t.Helper()
	size := map[byte]int{0x01: 1, 0x02: 4, 0x11: 4, 0x18: 4, 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1, 0x13: 2}
	for i := 0; i < len(raw); {
		pid := raw[i]
		i++
		if n, ok := size[pid]; ok {
			if pid == id {
				return raw[i : i+n], true
			}
			i += n
			continue
		}
		switch pid {
		case 0x0B: // subscription identifier: a variable byte integer
			for raw[i]&0x80 != 0 {
				i++
			}
			i++
		case 0x26: // user property: two strings
			for k := 0; k < 2; k++ {
				i += 2 + int(binary.BigEndian.Uint16(raw[i:]))
			}
		default: // the string and binary properties
			if pid == id {
				n := int(binary.BigEndian.Uint16(raw[i:]))
				return raw[i+2 : i+2+n], true
			}
			i += 2 + int(binary.BigEndian.Uint16(raw[i:]))
		}
	}
	return nil, false
}

func (p pub) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PUBLISH q%d d%v r%v id %d %q %q props % x", p.qos, p.dup, p.retain, p.pid, p.topic, p.payload, p.props)
	return b.String()
}
