package broker

import (
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func willConnect(v mqtt.Version, id, topic string) *mqtt.Connect {
	p := connectPacket(v, id, true)
	p.Will = &mqtt.Will{Topic: topic, Payload: []byte("bye " + id), QoS: 1}
	return p
}

func TestWill(t *testing.T) {
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{ConnectionMessages: true, Logger: logs.logger()})
	tests := []struct {
		name    string
		v       mqtt.Version
		end     func(c *tclient)
		publish bool
	}{
		{"network close v3", mqtt.V311, func(c *tclient) { c.nc.Close() }, true},
		{"network close v5", mqtt.V5, func(c *tclient) { c.nc.Close() }, true},
		{"disconnect v3", mqtt.V311, func(c *tclient) { c.disconnect() }, false},
		{"disconnect v5", mqtt.V5, func(c *tclient) { c.disconnect() }, false},
		{"disconnect with will v5", mqtt.V5, func(c *tclient) {
			c.send(&mqtt.Disconnect{Code: mqtt.DisconnectWithWill})
			c.expectClosed()
		}, true},
		{"disconnect with error code v5", mqtt.V5, func(c *tclient) {
			c.send(&mqtt.Disconnect{Code: mqtt.UnspecifiedError})
			c.expectClosed()
		}, true},
		{"protocol error v3", mqtt.V311, func(c *tclient) {
			c.sendRaw([]byte{0x32, 0x03, 0x00, 0x01, 'a'}) // QoS 1 without packet id
			c.expectClosed()
		}, true},
		{"protocol error v5", mqtt.V5, func(c *tclient) {
			c.send(&mqtt.Connect{Version: mqtt.V5, ClientID: "again"})
			c.expectClosed()
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := "will/" + tc.name
			watcher := connectClient(t, addr, mqtt.V5, "watch-"+tc.name)
			watcher.subscribe(topic, 1)
			c, _ := mustConnect(t, addr, willConnect(tc.v, "w-"+tc.name, topic))
			tc.end(c)
			if tc.publish {
				p := watcher.expectPublish(topic, "bye w-"+tc.name)
				if p.QoS != 1 {
					t.Errorf("will QoS %d", p.QoS)
				}
			}
			// The broker logs the disconnect after handling the will.
			logs.wait(t, "Client w-"+tc.name+" ")
			watcher.expectNothing()
		})
	}
}

func TestWillRetainAndKeepAlive(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	p := connectPacket(mqtt.V311, "frozen", true)
	p.KeepAlive = 1
	p.Will = &mqtt.Will{Topic: "status/frozen", Payload: []byte("offline"), Retain: true}
	c, _ := mustConnect(t, addr, p)
	c.expectClosed() // keep alive expiry fires the will
	late := connectClient(t, addr, mqtt.V311, "late")
	late.subscribe("status/#", 0)
	if got := late.expectPublish("status/frozen", "offline"); !got.Retain {
		t.Error("will not retained")
	}
}

func TestWillOnTakeover(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	watcher := connectClient(t, addr, mqtt.V311, "to-watch")
	watcher.subscribe("to/will", 0)
	old, _ := mustConnect(t, addr, willConnect(mqtt.V311, "to-client", "to/will"))
	connectClient(t, addr, mqtt.V311, "to-client")
	old.expectClosed()
	watcher.expectPublish("to/will", "bye to-client")
}

func TestWillDelay(t *testing.T) {
	_, addr := newTestBroker(t, Options{})
	watcher := connectClient(t, addr, mqtt.V5, "wd-watch")
	watcher.subscribe("wd/#", 1)

	// Reconnecting within the delay cancels the will [MQTT-3.1.3-9].
	p := connectPacket(mqtt.V5, "wd-a", false)
	p.Props.SetSessionExpiry(60)
	p.Will = &mqtt.Will{Topic: "wd/a", Payload: []byte("a gone"), QoS: 1}
	p.Will.Props.SetWillDelay(30)
	c, _ := mustConnect(t, addr, p)
	c.nc.Close()
	c2, ack := mustConnect(t, addr, func() *mqtt.Connect {
		q := connectPacket(mqtt.V5, "wd-a", false)
		q.Props.SetSessionExpiry(60)
		return q
	}())
	if !ack.SessionPresent {
		t.Error("session not present")
	}
	c2.disconnect()
	watcher.expectNothing()

	// Session expiry shorter than the delay: the will goes out when the
	// session ends (here: at once, expiry 0).
	p = connectPacket(mqtt.V5, "wd-b", true)
	p.Will = &mqtt.Will{Topic: "wd/b", Payload: []byte("b gone"), QoS: 1}
	p.Will.Props.SetWillDelay(30)
	c, _ = mustConnect(t, addr, p)
	c.nc.Close()
	watcher.expectPublish("wd/b", "b gone")

	// Session expiry 1s, delay 30s: published after about a second.
	p = connectPacket(mqtt.V5, "wd-c", true)
	p.Props.SetSessionExpiry(1)
	p.Will = &mqtt.Will{Topic: "wd/c", Payload: []byte("c gone"), QoS: 1}
	p.Will.Props.SetWillDelay(30)
	c, _ = mustConnect(t, addr, p)
	c.nc.Close()
	watcher.expectPublish("wd/c", "c gone")
}
