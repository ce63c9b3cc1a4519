package broker

import (
	"strings"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Mount points (ListenerConfig.MountPoint, mosquitto's mount_point). A
// connection accepted on a listener with a mount point M lives in the
// topic tree under M, as in mosquitto:
//
//   - inbound: M is put in front of the topic of every PUBLISH (after
//     topic alias resolution, handle_publish.go), of the will topic
//     (handle_connect.go) and of every filter of SUBSCRIBE and
//     UNSUBSCRIBE (handle_subscribe.go). For a shared subscription it goes
//     in front of the inner filter: $share/g/f becomes $share/g/Mf
//     (mosquitto puts it in front of the whole string, which makes it an
//     ordinary, unshared subscription to M$share/g/f); mosquitto does not
//     apply it to UNSUBSCRIBE at all, so there a mounted client cannot
//     remove its subscriptions: we do apply it.
//     The session keeps (and the store saves) the mounted filters.
//   - outbound: M is removed from the topic of every PUBLISH written to
//     the connection (writePublish), whatever the path (live, queued,
//     retained, resent on resume, loaded from the store). A message whose
//     topic is not strictly below M (M itself or its parent matched by
//     "#" or "+", or a queued message of a session that subscribed
//     through another listener) is not sent: fits refuses it where a
//     delivery is accepted or leaves the session queue, resend drops it
//     from the inflight window on resume (dropUnsendable), so that it
//     never holds an inflight slot; mosquitto drops such a message when
//     sending.
//
// Everything else sees the full topics: authorization (as mosquitto
// checks its ACLs after mounting), retained messages, the store, other
// listeners. $SYS is not visible from a mounted listener ($SYS/# becomes
// M$SYS/#). Properties are forwarded unchanged: a Response Topic is the
// responder's to publish to, and a responder on the same mount point
// reaches the requester through it (mosquitto does not rewrite it either).
//
// A listener without mount point costs one predictable branch per
// inbound PUBLISH and per delivery (c.mount() != "").

// unmount returns topic without c's mount point, and whether topic is
// strictly below it (only such a topic may be sent to c). c.mount() != "".
func (c *conn) unmount(topic string) (string, bool) {
	if len(topic) <= len(c.mount()) || !strings.HasPrefix(topic, c.mount()) {
		return "", false
	}
	return topic[len(c.mount()):], true
}

// mountTopic puts c's mount point in front of an inbound topic name.
// c.mount() != "".
func (c *conn) mountTopic(topic string) (string, error) {
	t := c.mount() + topic
	if len(t) > 65535 {
		// [MQTT-4.7.3-3]: it could not be sent to other clients.
		return "", mqtt.Errorf(mqtt.ErrInvalidTopicName, "topic longer than 65535 bytes under mount point %q", c.mount())
	}
	return t, nil
}

// mountFilter puts c's mount point in front of a topic filter of
// SUBSCRIBE or UNSUBSCRIBE (in front of the inner filter of a shared
// subscription). It returns the filter as the session keys it (with its
// $share/GROUP/ prefix) and the inner filter, which it validates.
// c.mount() != "".
func (c *conn) mountFilter(f string) (key, inner string, err error) {
	group, in, shared, perr := mqtt.ParseShared(f)
	if perr != nil {
		shared = false // invalid anyway; key it as given, under the mount
		in = f
	}
	inner = c.mount() + in
	key = inner
	if shared {
		key = mqtt.SharePrefix + group + "/" + inner
	} else if strings.HasPrefix(inner, mqtt.SharePrefix) {
		// A mount point such as "$" would turn "share/g/x" into a shared
		// subscription.
		return "", "", mqtt.Errorf(mqtt.ErrInvalidTopicFilter, "filter %q under mount point %q starts with %q", f, c.mount(), mqtt.SharePrefix)
	}
	if perr != nil {
		return key, inner, perr
	}
	// A mount point without a trailing '/' makes "#" or "+/x" invalid
	// ("tenant#"), and the length may exceed the maximum [MQTT-4.7.3-3].
	if err := mqtt.ValidTopicFilter(inner); err != nil {
		return "", "", err
	}
	return key, inner, nil
}

// mountWill returns the will of a CONNECT received by c with its topic
// under c's mount point. c.mount() != "".
func (c *conn) mountWill(w *mqtt.Will) (*mqtt.Will, error) {
	t, err := c.mountTopic(w.Topic)
	if err != nil {
		return nil, err
	}
	mw := *w
	mw.Topic = t
	return &mw, nil
}

// dropUnsendable removes from the inflight window the messages a resumed
// session cannot send to c because their topic is not below c's mount
// point (they were queued while the session was connected elsewhere) or
// they are larger than c's Maximum Packet Size: discarded as if sent
// [MQTT-3.1.2-25]. Released QoS 2 messages stay: only their PUBREL
// remains to be sent. s.mu held.
func (s *session) dropUnsendable(c *conn) {
	for i := 0; i < s.out.inflightLen(); {
		om := s.out.inflight[i]
		if om.state == StateReleased || c.fits(om.msg, om.qos, om.subIDs) {
			i++
			continue
		}
		s.dropped(om, c.unfitWhy(om.msg))
		s.complete(om) // removes s.inflight[i]
	}
}
