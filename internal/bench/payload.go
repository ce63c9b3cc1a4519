package bench

import (
	"encoding/binary"
	"errors"
	"time"
)

// StampSize is the size of the stamp at the start of every payload: magic
// (2 bytes), run id (4), publisher index (4), sequence number (8) and send
// time in nanoseconds since the run's epoch (8). Payloads must be at least
// this large; the rest is filler.
const StampSize = 26

// stampMagic marks a payload written by mqbench.
const stampMagic uint16 = 0x4D42 // "MB"

// Stamp is what a payload says about its message.
type Stamp struct {
	Run  uint32        // random per mqbench process: tells our messages from others
	Pub  uint32        // publisher index
	Seq  uint64        // per-publisher sequence number, from 0
	Sent time.Duration // send time, relative to the run's epoch
}

// Errors from ParseStamp.
var (
	ErrShortPayload = errors.New("payload shorter than the mqbench stamp")
	ErrNotStamped   = errors.New("payload has no mqbench stamp")
)

// PutStamp writes s into the first StampSize bytes of b, which must be at
// least StampSize long.
func PutStamp(b []byte, s Stamp) {
	_ = b[StampSize-1] // bounds check once
	binary.BigEndian.PutUint16(b[0:], stampMagic)
	binary.BigEndian.PutUint32(b[2:], s.Run)
	binary.BigEndian.PutUint32(b[6:], s.Pub)
	binary.BigEndian.PutUint64(b[10:], s.Seq)
	binary.BigEndian.PutUint64(b[18:], uint64(s.Sent))
}

// ParseStamp reads the stamp at the start of a payload.
func ParseStamp(b []byte) (Stamp, error) {
	if len(b) < StampSize {
		return Stamp{}, ErrShortPayload
	}
	if binary.BigEndian.Uint16(b[0:]) != stampMagic {
		return Stamp{}, ErrNotStamped
	}
	return Stamp{
		Run:  binary.BigEndian.Uint32(b[2:]),
		Pub:  binary.BigEndian.Uint32(b[6:]),
		Seq:  binary.BigEndian.Uint64(b[10:]),
		Sent: time.Duration(binary.BigEndian.Uint64(b[18:])),
	}, nil
}

// NewPayload returns a payload buffer of size bytes with a recognisable
// filler after the stamp area.
func NewPayload(size int) ([]byte, error) {
	if size < StampSize {
		return nil, errors.New("payload size must be at least 26 bytes (the mqbench stamp)")
	}
	b := make([]byte, size)
	for i := StampSize; i < size; i++ {
		b[i] = 'a' + byte(i%26)
	}
	return b, nil
}
