package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Binary form of a StoredMessage, for Store implementations that keep
// bytes (e.g. bbolt). The application part (topic, payload, properties)
// is an MQTT 5.0 PUBLISH packet, so the codec validates it on the way
// back; a short header in front carries the delivery state:
//
//	version   1 byte (1)
//	seq       8 bytes
//	packet id 2 bytes
//	state     1 byte
//	qos       1 byte
//	flags     1 byte (bit 0 retain, bit 1 dup)
//	expiry    8 bytes, Unix nanoseconds, 0 = never
//	publisher 2-byte length + bytes
//	sub ids   2-byte count + 4 bytes each
//	PUBLISH   the rest

const storedMessageVersion = 1

// ErrCorruptMessage is returned by UnmarshalStoredMessage for bytes it
// cannot decode.
var ErrCorruptMessage = errors.New("broker: corrupt stored message")

// MarshalStoredMessage encodes m.
func MarshalStoredMessage(m *StoredMessage) ([]byte, error) {
	if len(m.Publisher) > 0xffff || len(m.SubIDs) > 0xffff {
		return nil, fmt.Errorf("broker: stored message too large")
	}
	b := make([]byte, 0, 32+len(m.Publisher)+4*len(m.SubIDs)+len(m.Topic)+len(m.Payload)+16)
	b = append(b, storedMessageVersion)
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	b = binary.BigEndian.AppendUint16(b, m.PacketID)
	b = append(b, byte(m.State), byte(m.QoS), byte(b2i(m.Retain)|b2i(m.Dup)<<1))
	var exp int64
	if !m.Expiry.IsZero() {
		exp = m.Expiry.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Publisher)))
	b = append(b, m.Publisher...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.SubIDs)))
	for _, id := range m.SubIDs {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	p := &mqtt.Publish{Topic: m.Topic, Payload: m.Payload, Props: m.Props}
	p.Props.Unmark(mqtt.PropTopicAlias)
	p.Props.Unmark(mqtt.PropSubscriptionID)
	p.Props.Unmark(mqtt.PropMessageExpiry)
	return mqtt.Append(b, p, mqtt.V5)
}

// UnmarshalStoredMessage decodes bytes made by MarshalStoredMessage. The
// result does not alias data.
func UnmarshalStoredMessage(data []byte) (*StoredMessage, error) {
	b := bytes.Clone(data)
	const fixed = 1 + 8 + 2 + 3 + 8 + 2
	if len(b) < fixed || b[0] != storedMessageVersion {
		return nil, ErrCorruptMessage
	}
	m := &StoredMessage{
		Seq:      binary.BigEndian.Uint64(b[1:]),
		PacketID: binary.BigEndian.Uint16(b[9:]),
		State:    MessageState(b[11]),
		QoS:      mqtt.QoS(b[12]),
		Retain:   b[13]&1 != 0,
		Dup:      b[13]&2 != 0,
	}
	if exp := int64(binary.BigEndian.Uint64(b[14:])); exp != 0 {
		m.Expiry = time.Unix(0, exp)
	}
	n := int(binary.BigEndian.Uint16(b[22:]))
	b = b[fixed:]
	if len(b) < n+2 {
		return nil, ErrCorruptMessage
	}
	m.Publisher = string(b[:n])
	k := int(binary.BigEndian.Uint16(b[n:]))
	b = b[n+2:]
	if len(b) < 4*k {
		return nil, ErrCorruptMessage
	}
	for i := 0; i < k; i++ {
		m.SubIDs = append(m.SubIDs, binary.BigEndian.Uint32(b[4*i:]))
	}
	pk, err := mqtt.Decode(b[4*k:], mqtt.V5)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptMessage, err)
	}
	p, ok := pk.(*mqtt.Publish)
	if !ok || m.QoS > 2 || m.State > StateReleased {
		return nil, ErrCorruptMessage
	}
	m.Topic, m.Payload, m.Props = p.Topic, p.Payload, p.Props
	return m, nil
}
