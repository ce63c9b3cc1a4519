package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

func messageCases() []struct {
	name string
	m    *broker.StoredMessage
} {
	return []struct {
		name string
		m    *broker.StoredMessage
	}{
		{"zero", &broker.StoredMessage{}},
		{"retained", &broker.StoredMessage{QoS: 2, Retain: true, Topic: "a/b", Payload: []byte("on"),
			Publisher: "pub-1", Props: appProps()}},
		{"queued", &broker.StoredMessage{Seq: 1, State: broker.StateQueued, QoS: 1, Topic: "x", Payload: []byte{0}}},
		{"sent", &broker.StoredMessage{Seq: 1 << 40, PacketID: 65535, State: broker.StateSent, QoS: 2,
			Dup: true, Topic: "x/y", Payload: []byte("p")}},
		{"released", &broker.StoredMessage{Seq: 7, PacketID: 1, State: broker.StateReleased, QoS: 2, Topic: "q"}},
		{"all fields", &broker.StoredMessage{Seq: ^uint64(0), PacketID: 513, State: broker.StateSent, QoS: 2,
			Retain: true, Dup: true, SubIDs: []uint32{1, 2, 268435455}, Topic: "sport/tennis/ü",
			Payload: []byte("payload"), Props: fullProps(),
			Expiry: time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC), Publisher: "client-ü"}},
		{"retained with its source", &broker.StoredMessage{QoS: 1, Retain: true, Topic: "crs/r", Payload: []byte("kept"),
			Publisher: "alice-1", Source: &broker.StoredSource{Username: "alice", HasUsername: true, Listener: "l2",
				CertCommonName: "alice.example", MountPoint: "t/", Version: mqtt.V5}}},
		{"expiry before 1970", &broker.StoredMessage{Topic: "old", Expiry: time.Unix(-100, 5)}},
		{"big payload", &broker.StoredMessage{Topic: "big", Payload: []byte(strings.Repeat("x", 1<<20))}},
		{"empty present binary property", func() *broker.StoredMessage {
			m := &broker.StoredMessage{Topic: "e"}
			m.Props.SetCorrelationData([]byte{})
			m.Props.SetContentType("")
			return m
		}()},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, tc := range messageCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := appendMessage(nil, tc.m)
			if len(b) > messageSize(tc.m) {
				t.Errorf("encoded %d bytes, messageSize bound %d", len(b), messageSize(tc.m))
			}
			got, err := decodeMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffMessage(tc.m, got); d != "" {
				t.Error(d)
			}
			// Presence bits round-trip through the Has API.
			for id := mqtt.PropID(0); id < 0x40; id++ {
				if tc.m.Props.Has(id) != got.Props.Has(id) {
					t.Errorf("property 0x%02X: Has = %v, want %v", byte(id), got.Props.Has(id), tc.m.Props.Has(id))
				}
			}
		})
	}
}

// TestPropertiesCoverEveryField fails when mqtt.Properties gains a field
// that fullProps (and so the round trip below) does not set: props.go must
// then learn to store it.
func TestPropertiesCoverEveryField(t *testing.T) {
	p := fullProps()
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.IsExported() && v.Field(i).IsZero() {
			t.Errorf("fullProps does not set mqtt.Properties.%s: add it to props.go and to fullProps", f.Name)
		}
	}
	got := mqtt.Properties{}
	d := decoder{b: appendProps(nil, &p)}
	decodeProps(&d, &got)
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, got) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
	}
	if size := len(appendProps(nil, &p)); size > propsSize(&p) {
		t.Errorf("encoded %d bytes, bound %d", size, propsSize(&p))
	}
}

func TestSessionRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *broker.StoredSession
	}{
		{"3.1.1 connected", &broker.StoredSession{ClientID: "c", Version: mqtt.V311, ExpiryInterval: 0xFFFFFFFF}},
		{"3.1", &broker.StoredSession{ClientID: "old", Version: mqtt.V31}},
		{"5 disconnected", &broker.StoredSession{ClientID: "ü-client", Version: mqtt.V5, ExpiryInterval: 300,
			DisconnectedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}},
		{"with its client", &broker.StoredSession{ClientID: "c", Version: mqtt.V5, ExpiryInterval: 60,
			Username: "bob", HasUsername: true, Listener: "listener-2", CertCommonName: "bob.example",
			MountPoint: "tenant/b/"}},
		{"empty user name", &broker.StoredSession{ClientID: "c", Version: mqtt.V311, HasUsername: true}},
		{"last packet id", &broker.StoredSession{ClientID: "c", Version: mqtt.V5, ExpiryInterval: 60, LastPacketID: 65535}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSession(appendSession(nil, tc.s))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffSession(tc.s, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestSubscriptionRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *broker.StoredSubscription
	}{
		{"plain", &broker.StoredSubscription{Filter: "a/+/#", QoS: 1}},
		{"shared", &broker.StoredSubscription{Filter: "$share/g/a/b", QoS: 2, ID: 268435455}},
		{"all options", &broker.StoredSubscription{Filter: "x", QoS: 2, NoLocal: true, RetainAsPublished: true,
			RetainHandling: 2, ID: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSubscription(appendSubscription(nil, tc.s))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.s, got) {
				t.Errorf("got %+v, want %+v", got, tc.s)
			}
		})
	}
}

// TestDecodeDamagedRecords: every strict prefix, a trailing byte and an
// unknown record version are errors, never panics or partial records.
func TestDecodeDamagedRecords(t *testing.T) {
	full := messageCases()[5].m
	sess := &broker.StoredSession{ClientID: "c", Version: mqtt.V5, DisconnectedAt: time.Now()}
	sub := &broker.StoredSubscription{Filter: "f", QoS: 1, ID: 300}
	for _, tc := range []struct {
		name   string
		enc    []byte
		decode func([]byte) error
	}{
		{"message", appendMessage(nil, full), func(b []byte) error { _, err := decodeMessage(b); return err }},
		{"session", appendSession(nil, sess), func(b []byte) error { _, err := decodeSession(b); return err }},
		{"subscription", appendSubscription(nil, sub), func(b []byte) error { _, err := decodeSubscription(b); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.decode(tc.enc); err != nil {
				t.Fatalf("valid record: %v", err)
			}
			for n := range len(tc.enc) {
				if err := tc.decode(tc.enc[:n]); err == nil {
					t.Errorf("prefix of %d/%d bytes decoded without error", n, len(tc.enc))
				}
			}
			body := tc.enc[:len(tc.enc)-4]
			for _, bad := range []struct {
				name, want string
				b          []byte
			}{
				{"trailing byte", "trailing bytes", appendCRC(append(append([]byte(nil), body...), 0), 0)},
				{"version 99", "unknown record version", appendCRC(append([]byte{99}, body[1:]...), 0)},
				{"trailing byte after the checksum", "checksum mismatch", append(append([]byte(nil), tc.enc...), 0)},
			} {
				if err := tc.decode(bad.b); err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("%s: err = %v, want %q", bad.name, err, bad.want)
				}
			}
			// The checksum catches any single flipped bit.
			for i := range len(tc.enc) * 8 {
				b := append([]byte(nil), tc.enc...)
				b[i/8] ^= 1 << (i % 8)
				if err := tc.decode(b); err == nil {
					t.Fatalf("bit %d flipped: no error", i)
				}
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, tc := range messageCases() {
		if len(tc.m.Payload) < 1000 {
			enc := appendMessage(nil, tc.m)
			f.Add(enc[:len(enc)-4])
		}
	}
	// The fuzzer works on record bodies: the checksum is added here, or
	// nearly every input would stop at the checksum.
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeMessage(appendCRC(append([]byte(nil), body...), 0))
		if err != nil {
			return
		}
		enc := appendMessage(nil, m)
		m2, err := decodeMessage(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := diffMessage(m, m2); d != "" {
			t.Fatalf("re-decode differs: %s", d)
		}
		if string(appendMessage(nil, m2)) != string(enc) {
			t.Fatal("encoding not stable")
		}
	})
}
