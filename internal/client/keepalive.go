package client

import (
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// keepAliveLoop sends PINGREQ when nothing was sent for the keep alive
// interval (3.1.1 [MQTT-3.1.2-23], 5.0 [MQTT-3.1.2-20]) and ends the
// connection when no PINGRESP arrives within another interval ("the Client
// SHOULD close the Network Connection", section 3.1.2.10 / 3.1.2-11).
func (c *Client) keepAliveLoop() {
	defer c.wg.Done()
	ka := c.keepAlive
	timer := time.NewTimer(ka)
	defer timer.Stop()
	ping := &mqtt.Pingreq{}
	raw, err := mqtt.Append(nil, ping, c.version)
	if err != nil {
		c.fail(err)
		return
	}
	for {
		select {
		case <-c.done:
			return
		case <-timer.C:
		}
		now := time.Now()
		var next time.Duration
		if ps := c.pingOut.Load(); ps != 0 {
			since := now.Sub(time.Unix(0, ps))
			if since >= ka {
				c.fail(&TimeoutError{Op: "PINGRESP"})
				return
			}
			next = ka - since
		} else {
			idle := now.Sub(time.Unix(0, c.lastSend.Load()))
			if idle >= ka {
				c.pingOut.Store(now.UnixNano())
				if c.enqueue(outItem{p: ping, raw: raw}) != nil {
					return
				}
				next = ka
			} else {
				next = ka - idle
			}
		}
		timer.Reset(next)
	}
}
