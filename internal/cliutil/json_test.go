package cliutil

import (
	"encoding/json"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
)

func TestJSONLine(t *testing.T) {
	const head = `{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a/b","qos":0,"retain":0,`
	var binCorr mqtt.Properties
	binCorr.SetCorrelationData([]byte{0xff, 0x00})
	binCorr.SetTopicAlias(5)
	binCorr.SubscriptionIDs = []uint32{1, 2}
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"json object embedded and compacted", Message{Payload: []byte("{ \"t\" : 21.5,\n \"ok\": true }")},
			head + `"payloadlen":27,"payload":{"t":21.5,"ok":true}}`},
		{"json number", Message{Payload: []byte("42")}, head + `"payloadlen":2,"payload":42}`},
		{"utf8 text", Message{Payload: []byte("héllo \"w\"\n<&>")}, head + `"payloadlen":14,"payload":"héllo \"w\"\n<&>"}`},
		{"empty", Message{}, head + `"payloadlen":0,"payload":""}`},
		{"binary", Message{Payload: []byte{0xff, 0xfe, 0x00}}, head + `"payloadlen":3,"payload_b64":"//4A"}`},
		{"control chars and separators", Message{Payload: []byte("a\x01\u2028")}, head + `"payloadlen":5,"payload":"a\u0001\u2028"}`},
		{"qos1 mid retain", Message{QoS: 1, MID: 7, Retain: true, Payload: []byte("x")},
			`{"tst":"2020-05-06T22:12:00.123456+0100","topic":"a/b","qos":1,"retain":1,"payloadlen":1,"mid":7,"payload":"x"}`},
		{"v5 props", Message{Payload: []byte("x"), Props: fullProps()},
			head + `"payloadlen":1,"properties":{"subscription-identifier":7,"user-properties":{"k":"v","k2":"v2"},"content-type":"ct",` +
				`"correlation-data":"cd","response-topic":"rt","payload-format-indicator":1,"message-expiry-interval":60},"payload":"x"}`},
		{"binary correlation data, alias, two sub ids", Message{Payload: []byte("x"), Props: binCorr},
			head + `"payloadlen":1,"properties":{"subscription-identifier":1,"subscription-identifier":2,"correlation-data_b64":"/wA=","topic-alias":5},"payload":"x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.Topic, m.Received = "a/b", t0
			got := JSONLine(nil, &m)
			requireEqualBytes(t, tc.name, got, []byte(tc.want))
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func FuzzJSONLine(f *testing.F) {
	f.Add("a/b", []byte(`{"x":1}`), []byte("cd"))
	f.Add("t", []byte{0xff, 0, '\n'}, []byte{0xc3})
	f.Fuzz(func(t *testing.T, topic string, payload, corr []byte) {
		var p mqtt.Properties
		p.SetCorrelationData(corr)
		p.User = []mqtt.UserProperty{{Key: topic, Value: string(payload)}}
		m := &Message{Topic: topic, Payload: payload, QoS: 2, MID: 1, Props: p, Received: t0}
		out := JSONLine(nil, m)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %q", out)
		}
		for _, c := range out {
			if c == '\n' {
				t.Fatalf("newline inside an NDJSON record: %q", out)
			}
		}
	})
}
