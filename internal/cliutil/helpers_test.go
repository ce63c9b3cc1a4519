package cliutil

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// t0 is the fixed receive time used by the tests: 2020-05-06 22:12:00
// and 123456789 ns, at UTC+1 named BST.
var t0 = time.Date(2020, 5, 6, 22, 12, 0, 123456789, time.FixedZone("BST", 3600))

// fullProps is a v5 property set with every PUBLISH property but the topic
// alias (which mosquitto's broker does not forward).
func fullProps() mqtt.Properties {
	var p mqtt.Properties
	p.User = []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k2", Value: "v2"}}
	p.SetContentType("ct")
	p.SetCorrelationData([]byte("cd"))
	p.SetResponseTopic("rt")
	p.SetPayloadFormat(1)
	p.SetMessageExpiry(60)
	p.SubscriptionIDs = []uint32{7}
	return p
}

func requireEqualBytes(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, strconv.Quote(string(got)), strconv.Quote(string(want)))
	}
}

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorText(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err.Error(), want)
	}
}
