// Package broker is mqkit's MQTT 3.1 / 3.1.1 / 5.0 broker: listeners
// (TCP, TLS, WebSocket, secure WebSocket, any net.Conn), connections,
// sessions, routing, retained messages, wills and $SYS statistics.
//
// # Concurrency
//
// Each connection has two goroutines (conn.go, conn_write.go): the reader
// decodes packets and runs their handlers in order; the writer is the only
// goroutine writing to the socket. Everything else only queues outbound
// items (conn.push), so no goroutine ever does network I/O while holding
// a lock, and a slow subscriber never blocks a publisher.
//
// Publishing runs on the publisher's reader goroutine: match the trie,
// merge per session, then for each session lock it, put the message in its
// inflight window or queue (and the store), and queue the PUBLISH on its
// connection. Store calls for a message complete before the publisher's
// PUBACK/PUBREC is queued.
//
// # Lock order
//
// Locks are taken in this order and never the other way round:
//
//	Broker.mu        sessions map, connections, lifecycle flags
//	session.mu       one session's subscriptions, queues, timers, conn
//	Broker.retainMu  serialises retained updates with their store calls
//	topics locks     the subscription trie / retained tree (internal)
//	conn.qmu         one connection's outbound queue
//
// Session timers (expiry, will delay) run their callbacks on timer
// goroutines and take locks in the same order. Callbacks of the
// Authenticator and Authorizer may be called with a session lock held and
// must not call back into the broker.
//
// # Limits and policies
//
// See Options for every limit. Outgoing QoS 1/2 messages beyond the
// inflight window wait in the session queue (MaxQueued, MaxQueuedBytes);
// beyond it they are dropped and counted. QoS 0 messages are dropped and
// counted when the connection's write queue is full, and are not queued
// for offline sessions. A client whose unsent bytes exceed
// MaxOutboundBytes, or that does not read for WriteTimeout, is closed as a
// slow consumer.
package broker
