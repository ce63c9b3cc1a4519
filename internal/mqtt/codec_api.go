package mqtt

// This file fixes the codec's public API. The implementations live in the
// per-packet files (connect.go, publish.go, ...), read.go and write.go.
//
//   Append(dst []byte, p Packet, v Version) ([]byte, error)
//       appends the complete encoded packet (fixed header included) to dst.
//       It validates p for version v first (same rules as the decoder).
//   Size(p Packet, v Version) int
//       the encoded length of p including the fixed header.
//   Decode(b []byte, v Version) (Packet, error)
//       decodes exactly one complete packet (fixed header included) from b.
//       CONNECT is decoded whatever v is (it carries its own version).
//       Decoded strings/byte slices may alias b.
//   NewReader(r io.Reader, maxSize uint32) *Reader
//       (*Reader).ReadPacket() (Packet, error) reads one packet. Version is
//       the field r.Version (set after CONNECT/CONNACK; 0 means "expect
//       CONNECT" on the server side or V311). maxSize 0 means the protocol
//       maximum. A packet larger than maxSize returns ErrPacketTooLarge
//       before any body is allocated. PUBLISH bodies get one fresh
//       allocation; acks, PINGREQ/PINGRESP reuse reader-owned values that
//       are valid only until the next ReadPacket.
