// Package mqtt is the protocol core of mqkit: the wire codec for MQTT 3.1
// (protocol level 3, "MQIsdp"), 3.1.1 (level 4) and 5.0 (level 5), the
// topic name and filter rules, and one-line packet traces. It has no
// broker, network or CLI dependencies.
//
// Specifications: MQTT Version 3.1.1 (OASIS Standard, 29 October 2014)
// and MQTT Version 5.0 (OASIS Standard, 7 March 2019). Code that enforces
// a normative statement cites it next to the check, as [MQTT-x.y.z-n];
// where 3.1.1 and 5.0 number the same rule differently both are given.
//
// # Encoding and decoding
//
//   - Append(dst, p, v) validates p for version v with the decoder's rules
//     and appends the whole packet to dst (nothing on error). A CONNECT is
//     encoded with its own Version field. AppendHeader writes a PUBLISH
//     without its payload, for fan-out that shares one payload.
//   - Size(p, v) is the encoded length, fixed header included.
//   - Decode(b, v) decodes exactly one complete packet. Version 0 means
//     3.1.1; CONNECT is decoded by its own protocol level.
//   - NewReader(r, maxSize) and (*Reader).ReadPacket read packets from a
//     stream. The caller sets Reader.Version once CONNECT (server side) or
//     CONNACK (client side) is known. A packet larger than maxSize (whole
//     packet, fixed header included; 0 = protocol maximum) fails with
//     ErrPacketTooLarge before its body is read or allocated, and bodies
//     over 1 MiB grow as data arrives, so an announced size alone never
//     costs memory. Errors that leave the stream unframed are sticky.
//     Fill waits for input without decoding; while nothing is buffered a
//     Reader holds no read buffer (it borrows 4 KiB from a pool while
//     input is buffered), so an idle connection costs about 250 bytes.
//
// # Ownership and allocations
//
// Decode copies strings and aliases b for byte slices (payload, password,
// binary properties). The Reader owns and reuses the *Ack, *Pingreq,
// *Pingresp and *Publish it returns: they are valid only until the next
// ReadPacket or Fill, so copy the struct (p2 := *p) to keep it. A PUBLISH body is
// one fresh allocation that Topic, Payload and the properties point into;
// those fields stay valid for ever. Measured (see bench_test.go, guarded
// by TestAllocBudget): Append 0 allocations; Reader PUBACK/PUBREC/PUBREL/
// PUBCOMP/PINGREQ/PINGRESP 0; Reader PUBLISH 1; Decode PUBLISH 2. User
// Properties and Subscription Identifiers add their slices.
//
// # Errors
//
// Every codec error wraps one of the *Error sentinels in errors.go, which
// carry the reason code a v5 peer must be sent: errors.Is(err,
// ErrMalformedUTF8), and CodeOf(err) for the code (MalformedPacket,
// ProtocolError, TopicNameInvalid, PacketTooLarge, ...).
//
// # Topics
//
// ValidTopicName and ValidTopicFilter check names and filters (including
// the $share/{group}/{filter} form, split by ParseShared). SUBSCRIBE and
// UNSUBSCRIBE decoding checks only UTF-8, so a server can refuse one bad
// filter in its SUBACK; call ValidTopicFilter per filter. MatchTopic is a
// simple reference matcher, the oracle for the broker's trie.
//
// # Traces
//
// Describe and DescribeVersion render a packet on one line in mosquitto's
// -d style, e.g. "PUBLISH (d0, q1, r0, m7, 'a/b', ... (5 bytes))".
package mqtt
