// Package broker is mqkit's MQTT 3.1 / 3.1.1 / 5.0 broker: listeners
// (TCP, TLS, WebSocket, secure WebSocket, any net.Conn), connections,
// sessions, routing, retained messages, wills and $SYS statistics.
//
// # Concurrency
//
// TCP, TLS and WebSocket connections (on Linux) are read by one event
// loop (loop.go): a goroutine that waits for readable sockets with epoll,
// reads them, decodes their packets into a Framer each and runs the
// handlers, in the order the input arrived (see "Order" below). An idle
// connection on the loop costs no goroutine and no buffer; a plain TCP
// one not even a net.Conn: it is accepted as a bare descriptor
// (fdconn_linux.go), and its conn (192 bytes with that descriptor inside
// it, its atomic flags in one word, conn_flags.go: its outbound queue is
// made when something is queued and dropped when idle), session (112:
// its QoS state and offline timers are out of line, allocated when
// needed and released when idle, session.go), ClientInfo (80: it holds
// an IPv4 client's address from accept on, without a string; the
// password is never kept), client id and an 8-byte slot in the sessions
// table (sesstable.go) are most of what it keeps, about 0.68 KiB of RSS
// at 10,000 connections (PERFORMANCE.md, issue 17; TestIdleSizes keeps
// each struct in its size class). The loop never
// waits for anything but epoll (and a wait of up to 2 ms is a raw system
// call that keeps the loop's P, loop_raw_linux.go: latency): a publisher
// that must wait for a
// subscriber's room is paused and a goroutine waits for it (flow control
// below), a TLS handshake runs before the connection joins the loop, and
// the end of a connection (final flush, session, will) runs on a
// goroutine.
//
// Every other connection (unix socket, PROXY protocol, ServeConn of a
// connection that is not TCP, or any connection where epoll is not
// available) has one goroutine of its own (conn.go), which only waits for
// input, on a minimum-size stack. When bytes arrive it hands a read job
// to a shared worker (workers.go) and waits for it: the job decodes the
// buffered packets and runs their handlers in order.
//
// Writes: everything only queues outbound items (conn.push). A push made
// by a handler running on the loop or in a read job defers the write to
// the end of that pass or job, which then writes each kicked connection's
// queue in one system call that never waits for the socket (conn.kick,
// flushInline); what a socket does not take at once, and every push made
// elsewhere, is left to a write job, started when something is queued and
// ended when the queue is empty (conn_write.go). One write (inline or
// job) runs at a time per connection, no goroutine does network I/O while
// holding a lock, and a slow subscriber never blocks a publisher. On a
// bare descriptor (fdConn) a write job that finds the socket full parks
// until one poller goroutine's epoll finds the socket writable
// (fdpoller_linux.go: no thread per waiting writer), looking at a close
// or a shortened deadline at least every 50 ms; the descriptor is closed
// by its last user, never under a write. Read and write buffers are borrowed from pools only while a connection has
// data in flight. Every complete packet is answered in the pass or job
// that read it, whatever input follows it.
//
// Messages: a small PUBLISH read by the loop is decoded into a body that
// shares one allocation with its message (pubAlloc), taken from a pool
// and put back when its last holder releases it (message_ref.go): the
// handler, each outbound queue item until written, each session outMsg
// until acknowledged, an Observer that holds it. What keeps a message
// for an unknown time (the retained tree) pins it instead, and the
// collector frees it. A
// message routed and written at once thus costs no allocation; anything
// that keeps part of a message without holding it (a topic string as a
// map key) copies it.
// "The reader" below is the loop while it handles a connection, or the
// connection's goroutine with its read jobs.
//
// # Order
//
// When a client's write of SUBSCRIBE t has returned, and another client
// then publishes on t, the subscriber gets the message
// (internal/selftest/causal.go, TestCausalOrder). Test suites, Paho's
// among them, subscribe and publish that way without waiting for SUBACK.
// The loop keeps this order because a pass (loop.go):
//   - reads every ready socket once, then polls again without waiting and
//     reads what became ready meanwhile, until a poll finds nothing new:
//     the SUBSCRIBE reached the broker's socket before the PUBLISH was
//     even sent, so when the PUBLISH has been read the SUBSCRIBE has been
//     too (unless its connection had more than 16 KiB of input waiting,
//     or maxGather polls all found new input);
//   - handles first, to the end of their input, the connections whose
//     input holds a SUBSCRIBE, UNSUBSCRIBE or CONNECT, in the order they
//     became ready, then the others: the subscription is in the trie
//     before the PUBLISH is routed, even when the subscriber sent other
//     packets right before it (an acknowledgement, say).
//
// The publish is routed in the same pass, so its delivery is queued
// before the pass ends. TLS connections join the loop after their
// handshake (loop_tls.go), WebSocket ones after their upgrade
// (loop_ws.go), so this holds over every transport but unix sockets,
// PROXY-protocol listeners and ServeConn, whose connections keep a
// goroutine each.
//
// Publishing runs on the publisher's reader (its read job): match the trie,
// merge per session, then for each session lock it, put the message in its
// inflight window or queue (and the store), and queue the PUBLISH on its
// connection. Store calls for a message complete before the publisher's
// PUBACK/PUBREC is queued.
//
// A listener's MountPoint (mosquitto's mount_point) puts its clients'
// topics under a prefix on the way in and takes it off on the way out
// (mount.go); listeners without one pay a single branch per message.
//
// A listener with ProxyProtocol reads a PROXY protocol header (HAProxy,
// v1 or v2) before anything else on each connection and takes the client
// address from it (proxy.go); this happens once per connection, in a job
// like the TLS handshake, and costs nothing per message.
//
// # Lock order
//
// Locks are taken in this order and never the other way round:
//
//	Broker.mu        sessions table, connections, lifecycle flags
//	session.mu       one session's subscriptions, queues, timers, conn
//	Broker.retainMu  serialises retained updates with their store calls
//	topics locks     the subscription trie / retained tree (internal)
//	conn.qmu         one connection's outbound queue
//	workerPool.mu    idle workers (conn.push starts write jobs)
//	loop.mu          posts to the event loop (conn.close posts)
//
// Session timers (expiry, will delay) run their callbacks on timer
// goroutines and take locks in the same order. Callbacks of the
// Authenticator and Authorizer may be called with a session lock held and
// must not call back into the broker.
//
// # Flow control: nothing acknowledged is lost
//
// A message for a connected subscriber is always queued; when it fills
// the subscriber's queue (MaxQueued / MaxQueuedBytes beyond the inflight
// window, or as many QoS 0 messages unsent) the publisher's reader waits,
// after routing and outside every lock, until that subscriber has room,
// and only then acknowledges and reads the next packet (flow.go). On the
// event loop the publisher is paused instead: the loop stops reading it
// and goes on with everyone else, a goroutine waits for the room, sends
// the acknowledgement and hands the connection back (loop.go). TCP and,
// for v5 publishers, our Receive Maximum (1024) pace the publisher to its
// subscribers. This was chosen over delaying only the PUBACK because it
// throttles QoS 0 publishers too and bounds memory without trusting the
// client to honour its window; the PUBACK still follows the wait, so a v5
// publisher is also throttled by protocol.
//
// The wait is bounded: a subscriber still full after StallTimeout (2s) is
// a slow consumer that publishers no longer wait for until it has caught
// up. Its QoS 0 messages are then dropped (counted) while its queue is
// full; its QoS 1/2 messages keep queueing up to MaxOutboundBytes, beyond
// which it is closed (v5: DISCONNECT 0x97). A reader never waits for its
// own session nor for a session whose reader is waiting itself, so
// clients publishing to each other cannot deadlock the broker; wills,
// $SYS and retained messages sent on SUBSCRIBE never wait.
//
// One slow subscriber must not slow every publisher again and again
// (issue 12 item 6): a subscriber marked slow is also on probation, and
// so is one whose shorter stalls (waits of at least StallTimeout/4 that
// ended with room) add up to StallTimeout; while on probation publishers
// never wait for it, so the next time its backlog fills it is treated as
// slow at once instead of stalling its publishers again. It leaves
// probation once it has kept up for 10 x StallTimeout (20 s): no delivery
// found one of its backlogs above half the soft limit for that long. So a
// subscriber holds its publishers for about StallTimeout (under 2 x,
// plus waits shorter than StallTimeout/4) in every 11 x StallTimeout,
// whatever rhythm it reads in. Nothing acknowledged is lost
// meanwhile: its QoS 1/2 messages still queue up to MaxOutboundBytes;
// only QoS 0 messages beyond its soft limit are dropped (counted).
//
// A retained PUBLISH that crosses a SUBSCRIBE matching it is delivered to
// that subscription once: live when its trie match ran after the
// subscription was added, else as the retained copy. Each subscription
// carries the trie's subscribe count (topics.Subscription.Epoch) and the
// retained message the count its match saw (topics.Trie.MatchMark,
// message.routed), stored under the trie lock; the SUBSCRIBE skips the
// retained copy of a message whose match saw the subscription or has not
// run yet (message.routedTo).
//
// # Limits and policies
//
// See Options for every limit. Offline durable sessions follow
// mosquitto's max_queued_messages policy: QoS 1/2 messages beyond
// MaxQueued / MaxQueuedBytes are dropped and counted, and QoS 0 messages
// are not queued. A client whose unsent bytes or queued QoS 1/2 bytes
// exceed MaxOutboundBytes, or that does not read for WriteTimeout, is
// closed as a slow consumer. Topics and filters beyond
// TopicHierarchyLimit or MaxTopicLength are refused before anything of
// the packet is kept.
//
// # Authorization at hand-off
//
// Read access is checked when a message is handed to a connection (a
// delivery to a connected client, a queued message entering the inflight
// window, the inflight window re-sent on resume), with the ClientInfo of
// whoever the session belongs to then: a takeover by another user or an
// ACL reload never lets through what the client may not read now. QoS 1/2
// messages a session drops are counted and logged (drop.go). Strings kept
// beyond their packet are copied (the codec aliases packet memory).
package broker
