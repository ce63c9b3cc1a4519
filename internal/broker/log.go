package broker

import (
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Logging follows mosquitto's wording so that people (and scripts) used
// to mosquitto -v find the same lines. Passwords are never logged.

// logc logs a connection message (connection_messages).
func (b *Broker) logc(format string, args ...any) {
	if b.cfg.ConnectionMessages {
		b.cfg.Logger.Info(fmt.Sprintf(format, args...))
	}
}

func (c *conn) logc(format string, args ...any) { c.b.logc(format, args...) }

// logv logs a -v packet trace.
func (c *conn) logv(format string, args ...any) {
	if c.b.cfg.Verbose {
		c.b.cfg.Logger.Info(fmt.Sprintf(format, args...))
	}
	if c.b.observe.watched.Load() != nil {
		c.traceLog(format) // PINGREQ (observe.go)
	}
}

// logSent traces an outgoing control packet.
func (c *conn) logSent(p mqtt.Packet) {
	id := c.clientID()
	switch p := p.(type) {
	case *mqtt.Connack:
		c.logv("Sending CONNACK to %s (%d, %d)", id, b2i(p.SessionPresent), connackWireCode(p.Code, c.wireVersion()))
	case *mqtt.Ack:
		switch p.Kind {
		case mqtt.PUBACK, mqtt.PUBREC:
			c.logv("Sending %s to %s (m%d, rc%d)", p.Kind, id, p.PacketID, p.Code)
		default:
			c.logv("Sending %s to %s (m%d)", p.Kind, id, p.PacketID)
		}
	case *mqtt.Disconnect:
		c.logv("Sending DISCONNECT to %s (rc%d)", id, p.Code)
	default:
		c.logv("Sending %s to %s", p.Type(), id)
	}
}

func connackWireCode(code mqtt.ReasonCode, v mqtt.Version) int {
	if v == mqtt.V5 {
		return int(code)
	}
	return int(mqtt.ConnackCodeV3(code))
}
