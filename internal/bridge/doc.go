// Package bridge links mqbroker to another MQTT broker, as mosquitto's
// bridges ("connection" sections) do.
//
// A Bridge holds two clients (internal/client): a local one, connected to
// this broker in process (Options.LocalDial, e.g. one end of net.Pipe
// served by Broker.ServeConn on a listener that bypasses authentication
// and ACLs, as mosquitto's bridges do), and a remote one, connected to the
// first reachable address. It subscribes on each side to the mapped
// patterns (topic lines, see Topic) and republishes what arrives on the
// other side with the received QoS (the broker already gave min(pattern
// QoS, message QoS)), the retain flag kept (bridge_outgoing_retain), and
// the topic remapped by the prefixes.
//
// # Loops
//
// The local client is MQTT 5 and subscribes with No Local and Retain As
// Published, so what it forwards inwards never comes back to it. On the
// remote side a v5 bridge does the same; a 3.1/3.1.1 bridge sets
// mosquitto's try_private bit (protocol level 0x83/0x84), which mosquitto
// and mqbroker answer with the same two behaviours.
//
// # Nothing acknowledged is lost while connected
//
// Both clients use ManualAck: a QoS 1/2 message is acknowledged to the
// side it came from only once the other side acknowledged the forwarded
// copy (PUBACK, or PUBCOMP for QoS 2), in arrival order. This was chosen
// over relying on persistent sessions alone because it holds whatever the
// session settings: a message is either acknowledged after being handed
// on, or not acknowledged and redelivered by its broker (at least once;
// a resend after a reconnect may duplicate). The local client lives
// across remote reconnections; local messages waiting for the remote
// side are held unacknowledged (the broker's inflight window and queue
// bound them, as mosquitto's queue for a disconnected bridge) and
// forwarded once it is back, the ones whose forwarding was cut short
// first. QoS 0 messages are dropped while the remote side is down.
//
// # Reconnection and notifications
//
// A lost or refused remote connection is retried after restart_timeout:
// a constant delay, or a backoff from base to cap with decorrelated
// jitter (mosquitto's behaviour), reset by a successful connection.
// With notifications on, "0" (retained) is published locally before each
// attempt and when the connection ends, "1" once connected; unless
// notifications_local_only, "1" is published on the remote broker too,
// and "0" is the remote connection's will.
package bridge
