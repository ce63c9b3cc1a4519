package mqtt

import (
	"bytes"
	"slices"
	"testing"
)

// The decoder remembers in which order the properties arrived (their
// first occurrence), so a client can print them in wire order, as
// mosquitto_sub's %j does; properties set by code come after, by
// identifier, and removed ones are left out.
func TestPropertiesWireOrder(t *testing.T) {
	raw := []byte{
		0x30, 32, // PUBLISH, QoS 0, remaining length
		0x00, 0x01, 't',
		27,                                     // property length
		0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
		0x03, 0x00, 0x01, 'c', // content type
		0x01, 0x01, // payload format indicator
		0x26, 0x00, 0x02, 'k', '2', 0x00, 0x02, 'v', '2', // user property again
		0x02, 0x00, 0x00, 0x00, 0x3c, // message expiry interval 60
		'p',
	}
	pk, err := Decode(raw, V5)
	if err != nil {
		t.Fatal(err)
	}
	p := &pk.(*Publish).Props
	want := []PropID{PropUserProperty, PropContentType, PropPayloadFormat, PropMessageExpiry}
	if got := p.WireOrder(nil); !slices.Equal(got, want) {
		t.Fatalf("WireOrder = %v, want %v", got, want)
	}
	p.SetResponseTopic("r")
	p.Unmark(PropContentType)
	want = []PropID{PropUserProperty, PropPayloadFormat, PropMessageExpiry, PropResponseTopic}
	if got := p.WireOrder(make([]PropID, 0, 8)); !slices.Equal(got, want) {
		t.Fatalf("after changes, WireOrder = %v, want %v", got, want)
	}
	var built Properties
	built.SetMessageExpiry(1)
	built.SetContentType("x")
	if got, want := built.WireOrder(nil), []PropID{PropMessageExpiry, PropContentType}; !slices.Equal(got, want) {
		t.Fatalf("built by code: WireOrder = %v, want %v (identifier order)", got, want)
	}
}

// Remembering the order costs the reader no allocation.
func TestPropertiesWireOrderNoAlloc(t *testing.T) {
	raw := []byte{0x30, 12, 0x00, 0x01, 't', 6, 0x03, 0x00, 0x01, 'c', 0x01, 0x01, 'p', 'q'}
	src := bytes.NewReader(nil)
	r := NewReader(src, 0)
	r.Version = V5
	var order []PropID
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(raw)
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		order = p.(*Publish).Props.WireOrder(order[:0])
	})
	if allocs > budgetReaderPublish {
		t.Errorf("ReadPacket allocates %v times, budget %d", allocs, budgetReaderPublish)
	}
	if want := []PropID{PropContentType, PropPayloadFormat}; !slices.Equal(order, want) {
		t.Errorf("WireOrder = %v, want %v", order, want)
	}
}
