package broker

import (
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Issue 17: a session keeps its QoS state (session.out) only while it
// needs it. The loop's idle sweep releases it (session.trimIdle) once a
// connection has been silent for trimAfter and the session holds nothing;
// whatever it holds stays, and the flows go on after an idle spell.

// sessOf returns the session of clientID.
func sessOf(t *testing.T, b *Broker, clientID string) *session {
	t.Helper()
	b.mu.Lock()
	s := b.sessions.get(clientID)
	b.mu.Unlock()
	if s == nil {
		t.Fatalf("no session %q", clientID)
	}
	return s
}

// hasOut reports whether s holds QoS state.
func hasOut(s *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out != nil
}

// waitTrims waits until the loop has trimmed n more connections than
// from (loop.trims).
func waitTrims(t *testing.T, b *Broker, from uint64, n int) {
	t.Helper()
	deadline := time.Now().Add(trimAfter + testTimeout)
	for b.loop.trims.Load() < from+uint64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections trimmed, want %d", b.loop.trims.Load()-from, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After QoS 1 and QoS 2 exchanges in both directions the idle sessions
// hold no QoS state, and the next exchanges work as before: packet ids go
// on, the client's Receive Maximum bounds the inflight window
// [MQTT-3.3.4-9], ours bounds the QoS 2 publishes we hold [MQTT-3.3.4-9].
func TestSessionTrimAfterExchanges(t *testing.T) {
	b, addr := newTestBroker(t, Options{ReceiveMaximum: 2})
	cp := connectPacket(mqtt.V5, "trim-sub", true)
	cp.Props.SetReceiveMaximum(2)
	sub, _ := mustConnect(t, addr, cp)
	if b.loop == nil { // started with the first connection
		t.Skip("no event loop")
	}
	sub.subscribe("trim/t", 2)
	pub := connectClient(t, addr, mqtt.V5, "trim-pub")

	// Both directions: client to broker (pub: PUBACK; PUBREC, PUBREL,
	// PUBCOMP, with its id held in between) and broker to client (sub).
	var last uint16
	for _, qos := range []mqtt.QoS{1, 2} {
		if rc := pub.publish("trim/t", "before", qos, false); rc.IsError() {
			t.Fatalf("QoS %d publish: %v", qos, rc)
		}
		last = sub.expectPublish("trim/t", "before").PacketID
	}
	sub.roundTrip()
	pub.roundTrip()
	done := time.Now()
	ss, ps := sessOf(t, b, "trim-sub"), sessOf(t, b, "trim-pub")
	if !hasOut(ss) || !hasOut(ps) {
		if time.Since(done) < trimAfter/2 { // else the sweep may have come already
			t.Fatalf("no QoS state right after the exchanges (sub %v, pub %v): the test tests nothing", hasOut(ss), hasOut(ps))
		}
	}

	deadline := time.Now().Add(trimAfter + testTimeout)
	for hasOut(ss) || hasOut(ps) {
		if time.Now().After(deadline) {
			t.Fatalf("QoS state kept %v after the exchanges ended (sub %v, pub %v)", trimAfter+testTimeout, hasOut(ss), hasOut(ps))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Packet ids go on from the last one [MQTT-2.2.1-4].
	for _, qos := range []mqtt.QoS{1, 2} {
		if rc := pub.publish("trim/t", "after", qos, false); rc.IsError() {
			t.Fatalf("QoS %d publish after the trim: %v", qos, rc)
		}
		p := sub.expectPublish("trim/t", "after")
		if want := last + 1; p.PacketID != want || p.QoS != qos {
			t.Fatalf("after the trim: QoS %d packet id %d, want QoS %d id %d", p.QoS, p.PacketID, qos, want)
		}
		last = p.PacketID
	}

	// The inflight window is the client's Receive Maximum (2): the third
	// message waits for an acknowledgement.
	for _, pl := range []string{"w1", "w2", "w3"} {
		if rc := pub.publish("trim/t", pl, 1, false); rc.IsError() {
			t.Fatalf("publish %s: %v", pl, rc)
		}
	}
	w1 := sub.expectPublishNoAck("trim/t", "w1")
	sub.expectPublishNoAck("trim/t", "w2")
	if got := sub.sync(); len(got) > 0 {
		t.Fatalf("beyond the Receive Maximum of 2: %s", mqtt.Describe(got[0]))
	}
	sub.ackPublish(w1)
	sub.expectPublish("trim/t", "w3")

	// Our Receive Maximum (2) counts the QoS 2 ids held after the trim.
	pub.send(&mqtt.Publish{Topic: "trim/in", QoS: 2, PacketID: 100, Payload: []byte("a")})
	pub.expectAck(mqtt.PUBREC, 100)
	pub.send(&mqtt.Publish{Topic: "trim/in", QoS: 2, PacketID: 101, Payload: []byte("b")})
	pub.expectAck(mqtt.PUBREC, 101)
	pub.send(&mqtt.Publish{Topic: "trim/in", QoS: 2, PacketID: 102, Payload: []byte("c")})
	if d := pub.expectClosed(); d == nil || d.Code != mqtt.ReceiveMaximumExceeded {
		t.Fatalf("third QoS 2 publish held: DISCONNECT %v, want %v", d, mqtt.ReceiveMaximumExceeded)
	}
}

// trimIdle keeps what the session holds: a QoS 2 id awaiting its PUBREL
// (the PUBREL after the idle spell still gets PUBCOMP with Success
// [MQTT-4.3.3-11], and a re-sent PUBLISH is not delivered again
// [MQTT-4.3.3-9]), a message inflight (re-sent on a resumed session
// [MQTT-4.4.0-1]) and one queued behind it.
func TestSessionTrimKeepsHeldState(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	cp := connectPacket(mqtt.V5, "hold-sub", false)
	cp.Props.SetReceiveMaximum(1)
	cp.Props.SetSessionExpiry(300)
	sub, _ := mustConnect(t, addr, cp)
	if b.loop == nil { // started with the first connection
		t.Skip("no event loop")
	}
	sub.subscribe("hold/t", 1)
	pub := connectClient(t, addr, mqtt.V5, "hold-pub")

	// pub: a QoS 2 id held (PUBREC, no PUBREL). sub: one message
	// inflight, one queued (Receive Maximum 1).
	pub.send(&mqtt.Publish{Topic: "hold/t", QoS: 2, PacketID: 9, Payload: []byte("q2")})
	pub.expectAck(mqtt.PUBREC, 9)
	if rc := pub.publish("hold/t", "q1", 1, false); rc.IsError() {
		t.Fatalf("publish: %v", rc)
	}
	first := sub.expectPublishNoAck("hold/t", "q2")
	sub.roundTrip()
	pub.roundTrip()
	trims := b.loop.trims.Load()
	waitTrims(t, b, trims, 2) // both connections silent for trimAfter

	ss, ps := sessOf(t, b, "hold-sub"), sessOf(t, b, "hold-pub")
	ss.mu.Lock()
	inflight, pending := ss.out.inflightLen(), ss.out.pendingLen()
	ss.mu.Unlock()
	if inflight != 1 || pending != 1 {
		t.Fatalf("subscriber after the trim: %d inflight, %d queued, want 1 and 1", inflight, pending)
	}
	ps.mu.Lock()
	held := ps.out != nil && len(ps.out.inbound) == 1
	ps.mu.Unlock()
	if !held {
		t.Fatal("publisher's QoS 2 id released by the trim")
	}

	// The publisher re-sends the PUBLISH (DUP), then releases it.
	pub.send(&mqtt.Publish{Topic: "hold/t", QoS: 2, PacketID: 9, Dup: true, Payload: []byte("q2")})
	pub.expectAck(mqtt.PUBREC, 9)
	pub.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: 9})
	if a := pub.expectAck(mqtt.PUBCOMP, 9); a.Code != mqtt.Success {
		t.Fatalf("PUBCOMP %v after the idle spell, want Success", a.Code)
	}

	// The subscriber loses its connection and resumes: the inflight
	// message again, same id, DUP; then the queued one; nothing twice.
	sub.nc.Close()
	cp.CleanStart = false
	sub, ack := mustConnect(t, addr, cp)
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	again := sub.expectPublish("hold/t", "q2")
	if again.PacketID != first.PacketID || !again.Dup {
		t.Fatalf("re-sent PUBLISH id %d dup %v, want id %d with DUP [MQTT-4.4.0-1]", again.PacketID, again.Dup, first.PacketID)
	}
	sub.expectPublish("hold/t", "q1")
	sub.expectNothing()
}

// trimOut releases nothing while flow control is not at rest.
func TestSessionTrimFlowState(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := b.cfg.stallTimeout
	now := b.now().UnixNano()
	for _, tc := range []struct {
		name string
		set  func(s *session)
		trim bool
	}{
		{"empty", func(s *session) {}, true},
		{"inflight", func(s *session) { s.out.inflight = []*outMsg{{}} }, false},
		{"queued", func(s *session) { s.out.pending = []*outMsg{{}} }, false},
		{"QoS 2 id", func(s *session) { s.out.inbound = map[uint16]struct{}{1: {}} }, false},
		{"waited on", func(s *session) { s.waitedOn = true }, false},
		{"wait begun", func(s *session) { s.out.waitFrom = now }, false},
		{"slow", func(s *session) { s.slow, s.probation = true, true }, false},
		{"probation", func(s *session) { s.probation, s.out.highAt = true, now }, false},
		{"stalls adding up", func(s *session) { s.out.stalledFor, s.out.stallAt = st/2, now }, false},
		{"stalls long ago", func(s *session) {
			s.out.stalledFor, s.out.stallAt = st/2, now-int64(2*probationFactor*st)
		}, true},
	} {
		s := &session{b: b, out: &sessOut{}}
		tc.set(s)
		s.trimIdle()
		if trimmed := s.out == nil; trimmed != tc.trim {
			t.Errorf("%s: trimmed %v, want %v", tc.name, trimmed, tc.trim)
		}
	}
}

// A subscriber whose acknowledgement comes after a silence of rareGap
// gives back its QoS state at once (the loop's rare path), not trimAfter
// later: one getting a QoS 1 message a second keeps none between them.
func TestSessionTrimRare(t *testing.T) {
	b, addr := newTestBroker(t, Options{})
	sub := connectClient(t, addr, mqtt.V311, "rare-sub")
	if b.loop == nil {
		t.Skip("no event loop")
	}
	sub.subscribe("rare/t", 1)
	pub := connectClient(t, addr, mqtt.V311, "rare-pub")
	s := sessOf(t, b, "rare-sub")
	for i := range 3 {
		if rc := pub.publish("rare/t", "m", 1, false); rc.IsError() {
			t.Fatalf("publish: %v", rc)
		}
		p := sub.expectPublishNoAck("rare/t", "m")
		if !hasOut(s) {
			t.Fatalf("message %d: no QoS state while it is inflight: the test tests nothing", i)
		}
		// The silence that makes the subscriber's next packet rare (this
		// is the condition under test, not a wait for an event).
		time.Sleep(rareGap + rareGap/2)
		start := time.Now()
		sub.ackPublish(p)
		sub.roundTrip()                                   // the PUBACK is handled
		if hasOut(s) && time.Since(start) < trimAfter/2 { // else the sweep may have come
			t.Errorf("message %d: QoS state kept after a PUBACK that came after %v of silence", i, rareGap+rareGap/2)
		}
	}
}
