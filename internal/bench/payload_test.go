package bench

import (
	"errors"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    Stamp
		size int
	}{
		{"zero", Stamp{}, StampSize},
		{"typical", Stamp{Run: 0xdeadbeef, Pub: 7, Seq: 123456, Sent: 1500 * time.Millisecond}, 64},
		{"max", Stamp{Run: ^uint32(0), Pub: ^uint32(0), Seq: ^uint64(0), Sent: time.Duration(1<<63 - 1)}, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewPayload(tt.size)
			if err != nil {
				t.Fatal(err)
			}
			filler := string(b[StampSize:])
			PutStamp(b, tt.s)
			got, err := ParseStamp(b)
			if err != nil {
				t.Fatalf("ParseStamp: %v", err)
			}
			if got != tt.s {
				t.Errorf("ParseStamp = %+v, want %+v", got, tt.s)
			}
			if string(b[StampSize:]) != filler {
				t.Error("PutStamp wrote beyond the stamp")
			}
			if len(b) != tt.size {
				t.Errorf("payload is %d bytes, want %d", len(b), tt.size)
			}
		})
	}
}

func TestParseStampErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortPayload},
		{"one short", make([]byte, StampSize-1), ErrShortPayload},
		{"no magic", make([]byte, StampSize), ErrNotStamped},
		{"text", []byte("hello world, this is not a stamped payload"), ErrNotStamped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseStamp(tt.b); !errors.Is(err, tt.want) {
				t.Errorf("ParseStamp error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewPayloadTooSmall(t *testing.T) {
	if _, err := NewPayload(StampSize - 1); err == nil {
		t.Error("NewPayload accepted a payload smaller than the stamp")
	}
}
