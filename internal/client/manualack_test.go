package client_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// With ManualAck the PUBACK / PUBREC leaves only after Client.Ack, and the
// QoS 2 flow then completes with PUBCOMP. The client is connected over
// net.Pipe to an in-process broker through Options.Dial.
func TestManualAck(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{})
	for _, qos := range []mqtt.QoS{1, 2} {
		t.Run(fmt.Sprintf("q%d", qos), func(t *testing.T) {
			var acked atomic.Bool
			early := make(chan mqtt.PacketType, 4)
			comp := make(chan struct{}, 1)
			in := make(inbox, 1)
			sub := connect(t, client.Endpoint{Host: "pipe"}, mqtt.V5, "manual", func(o *client.Options) {
				o.Dial = func(context.Context) (net.Conn, error) {
					c1, c2 := net.Pipe()
					if err := b.ServeConn(c2, "pipe"); err != nil {
						return nil, err
					}
					return c1, nil
				}
				o.ManualAck = true
				o.OnMessage = in.handler
				o.Trace = func(ev client.TraceEvent) {
					a, ok := ev.Packet.(*mqtt.Ack)
					if !ev.Sent || !ok {
						return
					}
					switch a.Kind {
					case mqtt.PUBACK, mqtt.PUBREC:
						if !acked.Load() {
							early <- a.Kind
						}
					case mqtt.PUBCOMP:
						comp <- struct{}{}
					}
				}
			})
			subscribe(t, sub, "m/#", 2)
			pub := connect(t, endpoint(t, b.Addr("tcp").String()), mqtt.V5, "pub", nil)
			tok, err := pub.Publish(ctxT(t), &mqtt.Publish{Topic: "m/x", Payload: []byte("p"), QoS: qos})
			if err != nil {
				t.Fatal(err)
			}
			m := in.next(t)
			if err := tok.Wait(ctxT(t)); err != nil { // the broker acks the publisher at once
				t.Fatal(err)
			}
			acked.Store(true)
			sub.Ack(m)
			if qos == 2 {
				select {
				case <-comp:
				case <-ctxT(t).Done():
					t.Fatal("no PUBCOMP after Ack")
				}
			}
			// The broker has the message acknowledged: a clean disconnect
			// then leaves nothing to redeliver, and nothing was sent early.
			if err := sub.Disconnect(ctxT(t), nil); err != nil {
				t.Fatal(err)
			}
			select {
			case k := <-early:
				t.Fatalf("%s sent before Ack", k)
			default:
			}
		})
	}
}
