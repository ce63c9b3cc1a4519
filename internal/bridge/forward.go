package bridge

import (
	"context"
	"errors"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// forwarder moves one direction's messages from a queue to a sink client.
type forwarder struct {
	q           *fifo
	sink        *client.Client
	mapTopic    func(string) string
	keepRetain  bool
	maxInflight int
	logf        func(format string, v ...any)
	active      func() // called for every message forwarded (lazy bridges' idle timer)
	// resumed are messages already resent (Client.Resend) on the sink's
	// connection, awaited before the queue's.
	resumed []pending
}

// pending is a message sent to the sink and awaiting its acknowledgement.
type pending struct {
	it  item
	tok *client.Token
}

// outgoing is the PUBLISH forwarding m: the topic mapped, the retain flag
// kept or not, and without what belongs to the connection m came in on
// (topic alias, subscription identifiers).
func outgoing(m *mqtt.Publish, mapTopic func(string) string, keepRetain bool) *mqtt.Publish {
	p := &mqtt.Publish{Topic: mapTopic(m.Topic), Payload: m.Payload, QoS: m.QoS,
		Retain: m.Retain && keepRetain, Props: m.Props}
	p.Props.Unmark(mqtt.PropTopicAlias)
	p.Props.Unmark(mqtt.PropSubscriptionID)
	return p
}

// cutShort marks it as sent under tok's packet identifier (see item).
func cutShort(it item, tok *client.Token) item {
	if tok != nil && it.m.QoS > 0 {
		it.pid, it.rel = tok.PacketID(), tok.Released()
	}
	return it
}

// run forwards until stop is closed or the sink's connection ends. Each
// QoS 1/2 message is acknowledged to its source once the sink
// acknowledged it, in order. run returns the messages whose forwarding
// was cut short (the first failure and every later one, in order) for
// the caller to retry or drop.
func (f *forwarder) run(stop <-chan struct{}) []item {
	pend := make(chan pending, max(f.maxInflight, len(f.resumed)))
	var retry []item
	ackerDone := make(chan struct{})
	go func() {
		defer close(ackerDone)
		broken := false
		for pd := range pend {
			<-pd.tok.Done() // completed by the ack, or failed when the sink's connection ends
			err := pd.tok.Err()
			var ae *client.AckError
			switch {
			case broken:
				retry = append(retry, cutShort(pd.it, pd.tok))
			case err == nil:
				pd.it.src.ack(pd.it.m)
			case errors.As(err, &ae):
				// Refused for good (v5 reason code, e.g. not authorised):
				// retrying cannot help, so it is acknowledged and dropped.
				f.logf("message on %q refused: %v", pd.it.m.Topic, err)
				pd.it.src.ack(pd.it.m)
			default:
				broken = true
				retry = append(retry, cutShort(pd.it, pd.tok))
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, pd := range f.resumed {
		pend <- pd
	}
	var cut []item
	for {
		it, ok := f.q.pop(stop)
		if !ok {
			break
		}
		m := it.m
		it.pid, it.rel = 0, false
		tok, err := f.sink.Publish(ctx, outgoing(m, f.mapTopic, f.keepRetain))
		if err != nil {
			if ctx.Err() != nil || isDone(f.sink) {
				cut = []item{it}
				break
			}
			// The sink refuses this message whatever happens (above its
			// Maximum QoS or packet size): drop it rather than retry.
			f.logf("cannot forward message on %q: %v", m.Topic, err)
			it.src.ack(m)
			continue
		}
		if f.active != nil {
			f.active()
		}
		if m.QoS == 0 {
			continue
		}
		select {
		case pend <- pending{it, tok}:
		case <-stop:
			// Sent, but nobody will wait for its acknowledgement: it is
			// retried (at least once).
			cut = []item{cutShort(it, tok)}
		}
		if cut != nil {
			break
		}
	}
	close(pend)
	<-ackerDone
	return append(retry, cut...)
}

func isDone(c *client.Client) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}
