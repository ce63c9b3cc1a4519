// Package client is the MQTT client engine shared by mqpub and mqsub.
//
// A Client speaks MQTT 3.1, 3.1.1 and 5.0 over TCP, TLS, WebSocket and
// secure WebSocket. After Connect it runs three goroutines:
//
//   - the reader owns the network reader; it decodes every inbound packet,
//     runs the inbound QoS 1/2 flows and calls Options.OnMessage
//     synchronously, so messages are handled in arrival order;
//   - the writer is the only goroutine that writes to the connection
//     (gorilla/websocket allows a single writer); other goroutines queue
//     already-encoded packets and wake it;
//   - the keepalive loop sends PINGREQ when nothing was sent for the keep
//     alive interval and closes the connection when no PINGRESP comes back.
//
// Packet identifiers are shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE
// [MQTT-2.2.1-3]; outbound QoS 1/2 publishes are limited by the smaller of
// Options.MaxInflight and the server's Receive Maximum [MQTT-3.3.4-9].
//
// Errors are typed (ConnackError, DialError, TLSError, TimeoutError,
// AckError, SubackError, ServerDisconnectError) so the commands can map
// them to exit codes.
package client
