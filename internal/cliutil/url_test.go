package cliutil

import (
	"reflect"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Target
	}{
		{"mqtt://broker/a/b", Target{Scheme: "mqtt", Host: "broker", Port: 1883, Topic: "a/b"}},
		{"MQTT://broker:1884/a/#", Target{Scheme: "mqtt", Host: "broker", Port: 1884, Topic: "a/#"}},
		{"mqtt://broker", Target{Scheme: "mqtt", Host: "broker", Port: 1883}},
		{"mqtt://broker/", Target{Scheme: "mqtt", Host: "broker", Port: 1883}},
		{"mqtt://h/+/x y/%41", Target{Scheme: "mqtt", Host: "h", Port: 1883, Topic: "+/x y/%41"}},
		{"mqtts://u:p@h/t", Target{Scheme: "mqtts", Host: "h", Port: 8883, Username: "u", Password: "p", HasUser: true, HasPass: true, Topic: "t", TLS: true}},
		{"mqtt://u@h/t", Target{Scheme: "mqtt", Host: "h", Port: 1883, Username: "u", HasUser: true, Topic: "t"}},
		{"mqtt://u:@h/t", Target{Scheme: "mqtt", Host: "h", Port: 1883, Username: "u", HasUser: true, HasPass: true, Topic: "t"}},
		{"mqtt://u:p:q@h/t", Target{Scheme: "mqtt", Host: "h", Port: 1883, Username: "u", Password: "p:q", HasUser: true, HasPass: true, Topic: "t"}},
		{"mqtt://a%40b:p%2F%40@h/t", Target{Scheme: "mqtt", Host: "h", Port: 1883, Username: "a@b", Password: "p/@", HasUser: true, HasPass: true, Topic: "t"}},
		{"mqtt://u:p@ss@h/t", Target{Scheme: "mqtt", Host: "h", Port: 1883, Username: "u", Password: "p@ss", HasUser: true, HasPass: true, Topic: "t"}},
		{"mqtt://[::1]:1999/t", Target{Scheme: "mqtt", Host: "::1", Port: 1999, Topic: "t"}},
		{"mqtt://[::1]/t", Target{Scheme: "mqtt", Host: "::1", Port: 1883, Topic: "t"}},
		{"mqtt:///t", Target{Scheme: "mqtt", Host: "localhost", Port: 1883, Topic: "t"}},
		{"tcp://h:1/t", Target{Scheme: "mqtt", Host: "h", Port: 1, Topic: "t"}},
		{"ssl://h/t", Target{Scheme: "mqtts", Host: "h", Port: 8883, Topic: "t", TLS: true}},
		{"ws://h", Target{Scheme: "ws", Host: "h", Port: 80, WSPath: "/mqtt", WebSocket: true}},
		{"ws://h:9001/", Target{Scheme: "ws", Host: "h", Port: 9001, WSPath: "/", WebSocket: true}},
		{"ws://h:8080/mqtt/ws?x=1", Target{Scheme: "ws", Host: "h", Port: 8080, WSPath: "/mqtt/ws?x=1", WebSocket: true}},
		{"ws://h?x=1", Target{Scheme: "ws", Host: "h", Port: 80, WSPath: "/mqtt?x=1", WebSocket: true}},
		{"wss://u:p@h", Target{Scheme: "wss", Host: "h", Port: 443, Username: "u", Password: "p", HasUser: true, HasPass: true, WSPath: "/mqtt", TLS: true, WebSocket: true}},
	}
	for _, tc := range tests {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseURL(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ in, err string }{
		{"http://h/t", "Error: unsupported URL scheme."},
		{"h/t", "Error: unsupported URL scheme."},
		{"://h/t", "Error: unsupported URL scheme."},
		{"mqtt://h:0/t", `Error: Invalid URL for -L argument specified - invalid port "0".`},
		{"mqtt://h:65536/t", `Error: Invalid URL for -L argument specified - invalid port "65536".`},
		{"mqtt://h:x/t", `Error: Invalid URL for -L argument specified - invalid port "x".`},
		{"mqtt://h:/t", `Error: Invalid URL for -L argument specified - invalid port "".`},
		{"mqtt://::1/t", "Error: Invalid URL for -L argument specified - write IPv6 addresses in brackets."},
		{"mqtt://[::1/t", "Error: Invalid URL for -L argument specified - missing ']' in host."},
		{"mqtt://[::1]x/t", "Error: Invalid URL for -L argument specified - bad host."},
		{"mqtt://u%zz@h/t", "Error: Invalid URL for -L argument specified - bad escape in user name."},
		{"mqtt://u:%zz@h/t", "Error: Invalid URL for -L argument specified - bad escape in password."},
	}
	for _, tc := range tests {
		_, err := ParseURL(tc.in)
		if err == nil || err.Error() != tc.err {
			t.Errorf("ParseURL(%q) error = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestTargetStrings(t *testing.T) {
	tests := []struct{ in, addr, str, ws string }{
		{"mqtts://alice:secret@h:8884/a/b", "h:8884", "mqtts://alice:***@h:8884/a/b", ""},
		{"mqtt://[::1]/t", "[::1]:1883", "mqtt://[::1]:1883/t", ""},
		{"wss://a%20b@h/p", "h:443", "wss://a%20b@h:443/p", "wss://h:443/p"},
		{"ws://h:9001", "h:9001", "ws://h:9001/mqtt", "ws://h:9001/mqtt"},
	}
	for _, tc := range tests {
		tg, err := ParseURL(tc.in)
		requireNoError(t, err)
		if tg.Addr() != tc.addr {
			t.Errorf("%q Addr() = %q, want %q", tc.in, tg.Addr(), tc.addr)
		}
		if tg.String() != tc.str {
			t.Errorf("%q String() = %q, want %q", tc.in, tg.String(), tc.str)
		}
		if tc.ws != "" && tg.WebSocketURL() != tc.ws {
			t.Errorf("%q WebSocketURL() = %q, want %q", tc.in, tg.WebSocketURL(), tc.ws)
		}
	}
}
