package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Record encodings. Every value starts with a record version byte so that a
// later build can tell old records from new ones; the whole file also
// carries a format version (see formatVersion in bolt.go). Integers are
// unsigned varints (encoding/binary), strings and byte slices are a varint
// length followed by the bytes, times are a flag plus varint Unix seconds
// and uvarint nanoseconds. Every record ends with the CRC-32C of the bytes
// before it (little endian), so damage inside a value, which bbolt does
// not checksum, is detected at load instead of being delivered. Map keys are never trusted on load: every value
// repeats its own key (topic, client id, filter), because keys longer than
// bbolt's limit are stored hashed (see keyFor).
const (
	recMessageV1      = 1
	recMessageV2      = 2 // V1 and, with msgHasSource, the publisher's identity (retained)
	recSessionV1      = 1 // client id, version, expiry, disconnect time
	recSessionV2      = 2 // V1 and the client: user name, listener, certificate CN, mount point
	recSessionV3      = 3 // V2 and the last packet identifier used
	recSubscriptionV1 = 1
)

// Session client flag bits (recSessionV2).
const sessHasUsername = 1 << 0

// Message flag bits.
const (
	msgRetain    = 1 << 0
	msgDup       = 1 << 1
	msgHasExpiry = 1 << 2
	msgHasSource = 1 << 3 // recMessageV2
)

// Subscription flag bits.
const (
	subNoLocal           = 1 << 0
	subRetainAsPublished = 1 << 1
)

// errShort and friends are wrapped by decode errors.
var (
	errCRC     = errors.New("checksum mismatch")
	errShort   = errors.New("record truncated")
	errVersion = errors.New("unknown record version")
	errTrail   = errors.New("trailing bytes after record")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendCRC appends the checksum of b[start:], the record being built.
func appendCRC(b []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// newDecoder checks the record's checksum and returns a decoder over the
// bytes before it.
func newDecoder(v []byte) (decoder, error) {
	if len(v) < 5 {
		return decoder{}, errShort
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return decoder{}, errCRC
	}
	return decoder{b: body}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// messageSize is an upper bound of the encoded size of m (used to size the
// buffer once).
func messageSize(m *broker.StoredMessage) int {
	n := 8 + 3*binary.MaxVarintLen64 + len(m.SubIDs)*binary.MaxVarintLen32
	n += 2*binary.MaxVarintLen64 + len(m.Topic) + len(m.Publisher)
	n += 2 * binary.MaxVarintLen64 // expiry
	if so := m.Source; so != nil {
		n += 2 + 4*binary.MaxVarintLen64 + len(so.Username) + len(so.Listener) + len(so.CertCommonName) + len(so.MountPoint)
	}
	n += propsSize(&m.Props)
	n += binary.MaxVarintLen64 + len(m.Payload)
	return n
}

// appendMessage appends the encoding of m to b.
func appendMessage(b []byte, m *broker.StoredMessage) []byte {
	start := len(b)
	var flags byte
	if m.Retain {
		flags |= msgRetain
	}
	if m.Dup {
		flags |= msgDup
	}
	if !m.Expiry.IsZero() {
		flags |= msgHasExpiry
	}
	if m.Source != nil {
		flags |= msgHasSource
	}
	b = append(b, recMessageV2, flags, byte(m.State), byte(m.QoS))
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendUvarint(b, uint64(m.PacketID))
	b = binary.AppendUvarint(b, uint64(len(m.SubIDs)))
	for _, id := range m.SubIDs {
		b = binary.AppendUvarint(b, uint64(id))
	}
	b = appendString(b, m.Topic)
	b = appendString(b, m.Publisher)
	if !m.Expiry.IsZero() {
		b = appendTime(b, m.Expiry)
	}
	if so := m.Source; so != nil {
		var sf byte
		if so.HasUsername {
			sf |= sessHasUsername
		}
		b = append(b, sf, byte(so.Version))
		b = appendString(b, so.Username)
		b = appendString(b, so.Listener)
		b = appendString(b, so.CertCommonName)
		b = appendString(b, so.MountPoint)
	}
	b = appendProps(b, &m.Props)
	return appendCRC(appendBytes(b, m.Payload), start)
}

func decodeMessage(v []byte) (*broker.StoredMessage, error) {
	d, err := newDecoder(v)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if ver := d.byte(); d.err == nil && ver != recMessageV1 && ver != recMessageV2 {
		return nil, fmt.Errorf("message: %w %d", errVersion, ver)
	}
	m := &broker.StoredMessage{}
	flags := d.byte()
	m.State = broker.MessageState(d.byte())
	m.QoS = mqtt.QoS(d.byte())
	m.Retain = flags&msgRetain != 0
	m.Dup = flags&msgDup != 0
	m.Seq = d.uvarint()
	m.PacketID = d.u16()
	if n := d.count(1); n > 0 {
		m.SubIDs = make([]uint32, n)
		for i := range m.SubIDs {
			m.SubIDs[i] = d.u32()
		}
	}
	m.Topic = d.string()
	m.Publisher = d.string()
	if flags&msgHasExpiry != 0 {
		m.Expiry = d.time()
	}
	if flags&msgHasSource != 0 {
		so := &broker.StoredSource{}
		so.HasUsername = d.byte()&sessHasUsername != 0
		so.Version = mqtt.Version(d.byte())
		so.Username = d.string()
		so.Listener = d.string()
		so.CertCommonName = d.string()
		so.MountPoint = d.string()
		m.Source = so
	}
	decodeProps(&d, &m.Props)
	m.Payload = d.bytes()
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return m, nil
}

// appendSession writes a recSessionV3 record. Version 1 records (written
// before the client's identity was kept) are still read: their sessions
// come back without user name and listener, as they were saved; version
// 2 records (before the last packet id was kept) come back with
// LastPacketID 0, numbering from their inflight messages' ids.
func appendSession(b []byte, s *broker.StoredSession) []byte {
	start := len(b)
	b = append(b, recSessionV3)
	b = appendString(b, s.ClientID)
	b = append(b, byte(s.Version))
	b = binary.AppendUvarint(b, uint64(s.ExpiryInterval))
	if s.DisconnectedAt.IsZero() {
		b = append(b, 0)
	} else {
		b = appendTime(append(b, 1), s.DisconnectedAt)
	}
	var flags byte
	if s.HasUsername {
		flags |= sessHasUsername
	}
	b = append(b, flags)
	b = appendString(b, s.Username)
	b = appendString(b, s.Listener)
	b = appendString(b, s.CertCommonName)
	b = appendString(b, s.MountPoint)
	b = binary.AppendUvarint(b, uint64(s.LastPacketID))
	return appendCRC(b, start)
}

func decodeSession(v []byte) (*broker.StoredSession, error) {
	d, err := newDecoder(v)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	ver := d.byte()
	if d.err == nil && ver != recSessionV1 && ver != recSessionV2 && ver != recSessionV3 {
		return nil, fmt.Errorf("session: %w %d", errVersion, ver)
	}
	s := &broker.StoredSession{}
	s.ClientID = d.string()
	s.Version = mqtt.Version(d.byte())
	s.ExpiryInterval = d.u32()
	if d.byte() != 0 {
		s.DisconnectedAt = d.time()
	}
	if ver >= recSessionV2 {
		flags := d.byte()
		s.HasUsername = flags&sessHasUsername != 0
		s.Username = d.string()
		s.Listener = d.string()
		s.CertCommonName = d.string()
		s.MountPoint = d.string()
	}
	if ver >= recSessionV3 {
		s.LastPacketID = d.u16()
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

func appendSubscription(b []byte, s *broker.StoredSubscription) []byte {
	var flags byte
	if s.NoLocal {
		flags |= subNoLocal
	}
	if s.RetainAsPublished {
		flags |= subRetainAsPublished
	}
	start := len(b)
	b = append(b, recSubscriptionV1)
	b = appendString(b, s.Filter)
	b = append(b, byte(s.QoS), flags, s.RetainHandling)
	return appendCRC(binary.AppendUvarint(b, uint64(s.ID)), start)
}

func decodeSubscription(v []byte) (*broker.StoredSubscription, error) {
	d, err := newDecoder(v)
	if err != nil {
		return nil, fmt.Errorf("subscription: %w", err)
	}
	if ver := d.byte(); d.err == nil && ver != recSubscriptionV1 {
		return nil, fmt.Errorf("subscription: %w %d", errVersion, ver)
	}
	s := &broker.StoredSubscription{}
	s.Filter = d.string()
	s.QoS = mqtt.QoS(d.byte())
	flags := d.byte()
	s.NoLocal = flags&subNoLocal != 0
	s.RetainAsPublished = flags&subRetainAsPublished != 0
	s.RetainHandling = d.byte()
	s.ID = d.u32()
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("subscription: %w", err)
	}
	return s, nil
}

// decoder reads a record; the first error sticks and later reads return
// zero values. Everything returned is a copy: bbolt values are only valid
// inside their transaction.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u16() uint16 {
	v := d.uvarint()
	if v > 0xFFFF {
		d.fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	return uint16(v)
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 0xFFFFFFFF {
		d.fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	return uint32(v)
}

// count reads an element count, refusing counts that cannot fit in the
// remaining bytes (each element takes at least min bytes), so a corrupt
// count never triggers a huge allocation.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

// raw returns the next length-prefixed field without copying.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.raw()) }

// bytes returns a copy of the next field; an empty field decodes as nil.
func (d *decoder) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail(fmt.Errorf("nanoseconds %d out of range", nsec))
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errTrail
	}
	return d.err
}
