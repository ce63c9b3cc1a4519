package client

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestConnackRefused(t *testing.T) {
	tests := []struct {
		name     string
		v        mqtt.Version
		code     mqtt.ReasonCode
		wantExit int
		wantText string
	}{
		{"v311 not authorized", mqtt.V311, mqtt.NotAuthorized, 5, "Connection Refused: not authorised."},
		{"v311 bad credentials", mqtt.V311, mqtt.BadUserNameOrPassword, 4, "bad user name or password"},
		{"v31 identifier", mqtt.V31, mqtt.ClientIdentifierNotValid, 2, "identifier rejected"},
		{"v5 not authorized", mqtt.V5, mqtt.NotAuthorized, 135, "not authorized (0x87)"},
		{"v5 bad credentials", mqtt.V5, mqtt.BadUserNameOrPassword, 134, "bad user name or password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, done := startFake(t, func(f *fakeConn) {
				f.accept(&mqtt.Connack{Code: tc.code})
			})
			_, err := Connect(ctxT(t), Options{Endpoint: ep, Connect: mqtt.Connect{Version: tc.v, ClientID: "x", CleanStart: true}})
			var ce *ConnackError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConnackError", err)
			}
			if ce.ExitCode() != tc.wantExit {
				t.Errorf("ExitCode = %d, want %d", ce.ExitCode(), tc.wantExit)
			}
			if !strings.Contains(ce.Error(), tc.wantText) {
				t.Errorf("Error() = %q, want it to contain %q", ce.Error(), tc.wantText)
			}
			waitDone(t, done, "fake server")
		})
	}
}

func TestDialErrors(t *testing.T) {
	_, err := Connect(ctxT(t), Options{Endpoint: Endpoint{Host: "127.0.0.1", Port: 1}})
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want *DialError", err)
	}
}

func TestConnackTimeout(t *testing.T) {
	release := make(chan struct{})
	ep, _ := startFake(t, func(f *fakeConn) {
		f.expect(mqtt.CONNECT)
		<-release // never answer
	})
	defer close(release)
	_, err := Connect(context.Background(), Options{Endpoint: ep, ConnectTimeout: 200 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Op != "CONNACK" {
		t.Fatalf("err = %v, want TimeoutError CONNACK", err)
	}
}

func TestAssignedClientIDAndTrace(t *testing.T) {
	var mu sync.Mutex
	var buf strings.Builder
	tracer := TextTracer(lockedWriter{&mu, &buf}, true)
	ep, done := startFake(t, func(f *fakeConn) {
		ack := &mqtt.Connack{}
		ack.Props.SetAssignedClientID("auto-42")
		f.accept(ack)
		f.expect(mqtt.DISCONNECT)
	})
	c := testConnect(t, ep, mqtt.V5, func(o *Options) {
		o.Connect.ClientID = ""
		o.Trace = tracer
	})
	if c.ClientID() != "auto-42" {
		t.Errorf("ClientID = %q", c.ClientID())
	}
	if err := c.Disconnect(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{
		"Client (null) sending CONNECT",
		"Client auto-42 received CONNACK",
		"Client auto-42 sending DISCONNECT",
		"    0000  e0 00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestHexDump(t *testing.T) {
	var b strings.Builder
	HexDump(&b, []byte("\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02idXYZ"))
	want := "    0000  10 0e 00 04 4d 51 54 54  04 02 00 3c 00 02 69 64  |....MQTT...<..id|\n" +
		"    0010  58 59 5a                                          |XYZ|\n"
	if b.String() != want {
		t.Errorf("HexDump:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestDisconnectWithReason(t *testing.T) {
	got := make(chan mqtt.ReasonCode, 1)
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		if d, ok := f.expect(mqtt.DISCONNECT).(*mqtt.Disconnect); ok {
			got <- d.Code
		}
	})
	c := testConnect(t, ep, mqtt.V5, nil)
	if err := c.Disconnect(ctxT(t), &mqtt.Disconnect{Code: mqtt.DisconnectWithWill}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
	if code := <-got; code != mqtt.DisconnectWithWill {
		t.Errorf("DISCONNECT reason = %v, want 0x04", code)
	}
	if _, err := c.Publish(ctxT(t), &mqtt.Publish{Topic: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Disconnect: %v, want ErrClosed", err)
	}
}

func TestServerDisconnect(t *testing.T) {
	ep, _ := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		d := &mqtt.Disconnect{Code: mqtt.SessionTakenOver}
		d.Props.SetReasonString("another client")
		f.write(d)
	})
	c := testConnect(t, ep, mqtt.V5, nil)
	waitDone(t, c.Done(), "client end")
	var sd *ServerDisconnectError
	if !errors.As(c.Err(), &sd) || sd.Code != mqtt.SessionTakenOver || sd.ReasonString != "another client" {
		t.Fatalf("Err = %v, want ServerDisconnectError 0x8E", c.Err())
	}
}

func TestSubscribeUnsubscribe(t *testing.T) {
	ep, done := startFake(t, func(f *fakeConn) {
		f.accept(nil)
		s, _ := f.expect(mqtt.SUBSCRIBE).(*mqtt.Subscribe)
		if s == nil {
			return
		}
		f.write(&mqtt.Suback{PacketID: s.PacketID, Codes: []mqtt.ReasonCode{mqtt.GrantedQoS1, mqtt.NotAuthorized}})
		u, _ := f.expect(mqtt.UNSUBSCRIBE).(*mqtt.Unsubscribe)
		if u == nil {
			return
		}
		f.write(&mqtt.Unsuback{PacketID: u.PacketID, Codes: []mqtt.ReasonCode{mqtt.Success}})
	})
	c := testConnect(t, ep, mqtt.V5, nil)
	sub := &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: "a/#", QoS: 1}, {Filter: "secret", QoS: 2}}}
	ack, err := c.Subscribe(ctxT(t), sub)
	if err != nil {
		t.Fatal(err)
	}
	var se *SubackError
	if err := SubackErr(sub, ack); !errors.As(err, &se) || se.Filter != "secret" || se.Code != mqtt.NotAuthorized {
		t.Errorf("SubackErr = %v, want refusal of 'secret'", err)
	}
	if _, err := c.Unsubscribe(ctxT(t), &mqtt.Unsubscribe{Filters: []string{"a/#"}}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, "fake server")
}
