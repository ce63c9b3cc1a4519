package broker

import (
	"context"
	"log/slog"
)

// Messages a session holds and then does not send. A QoS 1/2 message is
// acknowledged to its publisher once it is queued for its subscribers'
// sessions (and stored): one that a session then drops is counted in
// $SYS/broker/publish/messages/dropped and logged with the reason, never
// lost silently.
//
// Every drop is counted once, by Broker.drop with its reason (Drop*):
// /metrics shows the counts by reason, $SYS/broker/publish/messages/
// dropped their sum (Stats.PublishDropped), so the two always agree. A
// delivery the subscriber's ACL filters out is not a drop there: /metrics
// counts it as reason acl, $SYS as publish/messages/denied.
//
// Authorization is checked when a message is handed to a connection,
// whatever the path: a delivery to a connected client (deliverFlow), a
// queued message entering the inflight window (fill), the inflight
// window re-sent on resume (resend). The session belongs to whoever
// connected last with its client id, with that client's ACL: a session
// taken over by another user, or whose client lost read access on a
// reload (SIGHUP), sends nothing the client may not read now. mosquitto
// 2.0 does the same when a client connects: it deletes the queued and
// inflight messages the client's ACL does not allow it to read.

// mayRead reports whether the client the session belongs to now may
// receive a message on topic. s.mu held.
func (s *session) mayRead(topic string) bool {
	az := s.b.cfg.Authorizer
	return az == nil || az.Authorize(s.info, topic, AccessRead)
}

// dropped counts a QoS 1/2 message the session will not send and logs
// why: as a warning when the ACL refused it, else as a notice. s.mu held.
func (s *session) dropped(om *outMsg, why string) {
	s.b.drop(dropReason(why))
	lvl := slog.LevelInfo
	if why == whyNotAuthorised {
		lvl = slog.LevelWarn
	}
	s.b.cfg.Logger.Log(context.Background(), lvl,
		"Dropped message for client "+s.clientID+" on '"+om.msg.topic+"': "+why+".", "qos", int(om.qos))
}

// Reasons for dropped.
const (
	whyNotAuthorised = "not authorised to read it"
	whyTooLarge      = "larger than the client's Maximum Packet Size" // [MQTT-3.1.2-25]
	whyOutsideMount  = "its topic is not below the mount point of the client's listener"
)

// dropReason is the drop reason (Drop*) counted for why.
func dropReason(why string) int {
	switch why {
	case whyNotAuthorised:
		return DropACL
	case whyTooLarge:
		return DropTooLarge
	}
	return DropOther // whyOutsideMount
}

// dropUnreadable removes from the inflight window the messages the
// client may not read (see above). Released QoS 2 messages stay: only
// their PUBREL remains, which carries no application data. s.mu held.
func (s *session) dropUnreadable() {
	if s.b.cfg.Authorizer == nil {
		return
	}
	for i := 0; i < s.out.inflightLen(); {
		om := s.out.inflight[i]
		if om.state == StateReleased || s.mayRead(om.msg.topic) {
			i++
			continue
		}
		s.dropped(om, whyNotAuthorised)
		s.complete(om) // removes s.inflight[i]
	}
}

// unfitWhy is why c.fits refused m: its topic is outside the mount point
// of c's listener, else it is too large for c's Maximum Packet Size.
func (c *conn) unfitWhy(m *message) string {
	if c.mount() != "" {
		if _, ok := c.unmount(m.topic); !ok {
			return whyOutsideMount
		}
	}
	return whyTooLarge
}

// unfitReason is the drop reason (Drop*) of a message c.fits refused.
func (c *conn) unfitReason(m *message) int { return dropReason(c.unfitWhy(m)) }
