package clicmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// mosqTracer prints the -d lines of mosquitto_pub and mosquitto_sub
// 2.0.11 byte for byte: libmosquitto's log format strings (lib/send_*.c,
// lib/handle_*.c), with "(null)" for a client without an identifier (an
// MQTT 5 one until CONNACK assigns it). --trace prints more
// (client.TextTracer).
//
// libmosquitto numbers every message it publishes, QoS 0 included, from
// the counter that also numbers SUBSCRIBE and UNSUBSCRIBE; a QoS 0
// PUBLISH carries no identifier on the wire, so the tracer keeps that
// counter for its "m%d".
type mosqTracer struct {
	w   io.Writer
	v   mqtt.Version
	mu  sync.Mutex
	mid uint16 // the last message id libmosquitto would have used
}

func newMosqTracer(w io.Writer, v mqtt.Version) *mosqTracer { return &mosqTracer{w: w, v: v} }

func (t *mosqTracer) trace(ev client.TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := ev.ClientID
	if id == "" {
		id = "(null)" // glibc's printf of a NULL string
	}
	var b strings.Builder
	if ev.Sent {
		t.sent(&b, id, ev.Packet)
	} else {
		t.received(&b, id, ev.Packet)
	}
	io.WriteString(t.w, b.String())
}

func (t *mosqTracer) sent(b *strings.Builder, id string, p mqtt.Packet) {
	switch p := p.(type) {
	case *mqtt.Connect:
		fmt.Fprintf(b, "Client %s sending CONNECT\n", id)
	case *mqtt.Publish:
		mid := p.PacketID
		if p.QoS == 0 {
			mid = t.next()
		} else {
			t.mid = mid
		}
		fmt.Fprintf(b, "Client %s sending PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))\n",
			id, b2i(p.Dup), p.QoS, b2i(p.Retain), mid, p.Topic, len(p.Payload))
	case *mqtt.Ack:
		switch p.Kind {
		case mqtt.PUBACK, mqtt.PUBREC:
			fmt.Fprintf(b, "Client %s sending %s (m%d, rc%d)\n", id, p.Kind, p.PacketID, p.Code)
		default: // PUBREL, PUBCOMP
			fmt.Fprintf(b, "Client %s sending %s (m%d)\n", id, p.Kind, p.PacketID)
		}
	case *mqtt.Subscribe:
		t.mid = p.PacketID
		// One line per filter; the options byte without the QoS bits,
		// which libmosquitto only sends (and shows) for MQTT 5.
		for _, s := range p.Subscriptions {
			opts := 0
			if t.v == mqtt.V5 {
				opts = b2i(s.NoLocal)<<2 | b2i(s.RetainAsPublished)<<3 | int(s.RetainHandling&3)<<4
			}
			fmt.Fprintf(b, "Client %s sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)\n",
				id, p.PacketID, s.Filter, s.QoS, opts)
		}
	case *mqtt.Unsubscribe:
		t.mid = p.PacketID
		for _, f := range p.Filters {
			fmt.Fprintf(b, "Client %s sending UNSUBSCRIBE (Mid: %d, Topic: %s)\n", id, p.PacketID, f)
		}
	case *mqtt.Pingreq:
		fmt.Fprintf(b, "Client %s sending PINGREQ\n", id)
	case *mqtt.Disconnect:
		fmt.Fprintf(b, "Client %s sending DISCONNECT\n", id)
	case *mqtt.Auth:
		fmt.Fprintf(b, "Client %s sending AUTH\n", id)
	}
}

func (t *mosqTracer) received(b *strings.Builder, id string, p mqtt.Packet) {
	switch p := p.(type) {
	case *mqtt.Connack:
		code := byte(p.Code)
		if t.v != mqtt.V5 {
			code = mqtt.ConnackCodeV3(p.Code)
		}
		fmt.Fprintf(b, "Client %s received CONNACK (%d)\n", id, code)
	case *mqtt.Publish:
		fmt.Fprintf(b, "Client %s received PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))\n",
			id, b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, p.Topic, len(p.Payload))
	case *mqtt.Ack:
		switch p.Kind {
		case mqtt.PUBACK, mqtt.PUBCOMP:
			fmt.Fprintf(b, "Client %s received %s (Mid: %d, RC:%d)\n", id, p.Kind, p.PacketID, p.Code)
		default: // PUBREC, PUBREL
			fmt.Fprintf(b, "Client %s received %s (Mid: %d)\n", id, p.Kind, p.PacketID)
		}
	case *mqtt.Suback:
		fmt.Fprintf(b, "Client %s received SUBACK\n", id)
	case *mqtt.Unsuback:
		fmt.Fprintf(b, "Client %s received UNSUBACK\n", id)
	case *mqtt.Pingresp:
		fmt.Fprintf(b, "Client %s received PINGRESP\n", id)
	case *mqtt.Auth:
		fmt.Fprintf(b, "Client %s received AUTH\n", id)
	}
	// libmosquitto 2.0.11 logs nothing for a DISCONNECT from the server.
}

// next is the message id libmosquitto gives a QoS 0 PUBLISH.
func (t *mosqTracer) next() uint16 {
	t.mid++
	if t.mid == 0 {
		t.mid = 1
	}
	return t.mid
}

// subscribedLine is what mosquitto_sub -d prints once a SUBACK arrives:
// the packet identifier and each granted QoS (or refusal code).
func subscribedLine(a *mqtt.Suback) string {
	var b strings.Builder
	b.WriteString("Subscribed (mid: ")
	b.WriteString(strconv.Itoa(int(a.PacketID)))
	b.WriteString("):")
	for i, c := range a.Codes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(c)))
	}
	b.WriteByte('\n')
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
