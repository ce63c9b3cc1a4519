package client

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// TextTracer returns a Trace function that prints each packet in
// mosquitto's -d words ("Client ID sending CONNECT", "Client ID received
// CONNACK (0)") and, with dump, the packet's bytes as a hex dump. Lines are
// written to w whole, under a lock, so the reader and writer goroutines do
// not interleave.
func TextTracer(w io.Writer, dump bool) func(TraceEvent) {
	var mu sync.Mutex
	return func(ev TraceEvent) {
		var b strings.Builder
		id := ev.ClientID
		if id == "" {
			id = "(null)" // what mosquitto prints before a v5 id is assigned
		}
		dir := "received"
		if ev.Sent {
			dir = "sending"
		}
		fmt.Fprintf(&b, "Client %s %s %s\n", id, dir, mqtt.Describe(ev.Packet))
		if dump {
			HexDump(&b, ev.Raw)
		}
		mu.Lock()
		io.WriteString(w, b.String())
		mu.Unlock()
	}
}

// HexDump writes raw as a capture-style dump: offset, 16 bytes in hex in
// two groups of eight, and the printable ASCII, e.g.
//
//	0000  10 0e 00 04 4d 51 54 54  04 02 00 3c 00 02 69 64  |....MQTT...<..id|
func HexDump(w io.Writer, raw []byte) {
	var line strings.Builder
	for off := 0; off < len(raw); off += 16 {
		line.Reset()
		end := min(off+16, len(raw))
		fmt.Fprintf(&line, "    %04x  ", off)
		for i := off; i < off+16; i++ {
			if i < end {
				fmt.Fprintf(&line, "%02x ", raw[i])
			} else {
				line.WriteString("   ")
			}
			if i == off+7 {
				line.WriteByte(' ')
			}
		}
		line.WriteString(" |")
		for _, c := range raw[off:end] {
			if c >= 0x20 && c < 0x7f {
				line.WriteByte(c)
			} else {
				line.WriteByte('.')
			}
		}
		line.WriteString("|\n")
		io.WriteString(w, line.String())
	}
}
