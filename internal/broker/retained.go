package broker

import (
	"strings"
)

// Retained messages (MQTT 5.0 section 3.3.1.3) live in a topic tree keyed
// by topic name; SUBSCRIBE walks it with the filter.

// setRetained stores m as the retained message of its topic, replacing the
// previous one [MQTT-3.3.1-5], or deletes it when the payload is empty
// [MQTT-3.3.1-6] [MQTT-3.3.1-7]. $SYS messages are not persisted.
func (b *Broker) setRetained(m *message) error {
	persist := !strings.HasPrefix(m.topic, "$SYS/")
	// retainMu keeps the tree and the store in the same order when two
	// clients retain on one topic at once.
	b.retainMu.Lock()
	defer b.retainMu.Unlock()
	if len(m.payload) == 0 {
		if b.retained.Delete(m.topic) && persist {
			return b.logStoreErr("delete retained", b.store.DeleteRetained(m.topic))
		}
		return nil
	}
	m.pin() // the tree's copy shares its body (message_ref.go)
	r := m.unpooled()
	r.from = nil // do not keep the publisher's session alive
	b.retained.Set(m.topic, &r)
	if persist {
		return b.logStoreErr("save retained", b.store.SaveRetained(storedRetained(&r)))
	}
	return nil
}

// retainedFor returns the unexpired retained messages matching filter.
// Expired ones are removed [MQTT-3.3.2-5].
func (b *Broker) retainedFor(filter string) []*message {
	var out, expired []*message
	now := b.now()
	b.retained.Match(filter, func(_ string, m *message) bool {
		if m.expired(now) {
			expired = append(expired, m)
		} else {
			out = append(out, m)
		}
		return true
	})
	for _, m := range expired {
		if b.retained.DeleteIf(m.topic, func(cur *message) bool { return cur == m }) {
			b.logStoreErr("delete retained", b.store.DeleteRetained(m.topic))
		}
	}
	return out
}

func (b *Broker) logStoreErr(what string, err error) error {
	if err != nil {
		b.cfg.Logger.Error("Store error: "+what, "err", err)
	}
	return err
}

// retainSourceAllowed is mosquitto's check_retain_source: the publisher of
// retained message m may still publish to its topic (the ACL may have
// changed since it was retained). Unknown publishers (the broker itself,
// messages restored from the store) are not checked, as in mosquitto.
func (b *Broker) retainSourceAllowed(m *message) bool {
	az := b.cfg.Authorizer
	if az == nil || b.cfg.NoRetainSourceCheck || m.src == nil {
		return true
	}
	return az.Authorize(m.src, m.topic, AccessWrite)
}
