package clicmd

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"testing"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestV31ConnackUnusedByteLikeMosquitto: an MQTT 3.1 server that sets bit
// 0 of the CONNACK's first byte (3.1: "Reserved values. Not used.") is
// served by mosquitto_sub -V mqttv31 as by any other: it subscribes and
// prints the message. mqsub does the same, byte for byte, with the same
// exit status (our decoder accepts the byte and does not read it as
// Session Present, which 3.1 lacks: mqtt.TestConnackV31NoSessionPresent).
func TestV31ConnackUnusedByteLikeMosquitto(t *testing.T) {
	mosq := clienttest.RequireBinary(t, "mosquitto_sub")
	args := func(addr string) []string {
		host, port, _ := net.SplitHostPort(addr)
		return []string{"-V", "mqttv31", "-h", host, "-p", port, "-i", "v31c", "-t", "v31/t", "-C", "1", "-v"}
	}
	ctx := testCtx(t)
	addr := v31Server(t, ctx)
	out, err := exec.CommandContext(ctx, mosq, args(addr)...).Output()
	wantCode := 0
	if ee, ok := err.(*exec.ExitError); ok {
		wantCode = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	want := result{code: wantCode, stdout: string(out)}
	if want.code != 0 || want.stdout != "v31/t hello\n" {
		t.Fatalf("mosquitto_sub against the 3.1 server: exit %d, %q", want.code, want.stdout)
	}
	got := sub(t, args(v31Server(t, ctx))...)
	if got.code != want.code || got.stdout != want.stdout {
		t.Errorf("mqsub: exit %d, %q (stderr %q); mosquitto_sub: exit %d, %q", got.code, got.stdout, got.stderr, want.code, want.stdout)
	}
}

// v31Server serves one MQTT 3.1 client: CONNACK 20 02 01 00 (the unused
// byte with bit 0 set), a SUBACK for its SUBSCRIBE, then one message on
// the topic it subscribed to; it closes when the client does.
func v31Server(t *testing.T, ctx context.Context) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if d, ok := ctx.Deadline(); ok {
			_ = nc.SetDeadline(d)
		}
		r := mqtt.NewReader(bufio.NewReader(nc), 0)
		r.Version = mqtt.V31
		if _, err := r.ReadPacket(); err != nil {
			t.Errorf("v31 server: CONNECT: %v", err)
			return
		}
		if _, err := nc.Write([]byte{0x20, 0x02, 0x01, 0x00}); err != nil {
			return
		}
		for {
			p, err := r.ReadPacket()
			if err != nil {
				return // the client closed
			}
			s, ok := p.(*mqtt.Subscribe)
			if !ok {
				continue // PINGREQ, DISCONNECT
			}
			b, _ := mqtt.Append(nil, &mqtt.Suback{PacketID: s.PacketID, Codes: []mqtt.ReasonCode{0}}, mqtt.V31)
			b, _ = mqtt.Append(b, &mqtt.Publish{Topic: s.Subscriptions[0].Filter, Payload: []byte("hello")}, mqtt.V31)
			if _, err := nc.Write(b); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}
