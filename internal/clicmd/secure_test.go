package clicmd

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client/clienttest"
)

func TestAuthAndTLS(t *testing.T) {
	for _, k := range secureKinds {
		t.Run(k.name, func(t *testing.T) {
			sb := k.start(t)
			ca := sb.certs.CACert
			tests := []struct {
				name     string
				tg       target
				args     []string
				env      map[string]string
				wantCode int
				wantErr  string
			}{
				{"right password", sb.plain, []string{"-u", "alice", "-P", "secret"}, nil, 0, ""},
				{"password from MQ_PASSWORD", sb.plain, []string{"-u", "alice"}, map[string]string{"MQ_PASSWORD": "secret"}, 0, ""},
				{"wrong password v311", sb.plain, []string{"-u", "alice", "-P", "nope"}, nil, 5, "Connection error: Connection Refused: not authorised."},
				{"wrong password v31", sb.plain, []string{"-V", "31", "-u", "alice", "-P", "nope"}, nil, 5, "Connection Refused"},
				{"anonymous v311", sb.plain, nil, nil, 5, "Hint: check -u/-P"},
				{"wrong password v5", sb.plain, []string{"-V", "5", "-u", "alice", "-P", "nope"}, nil, 135, "Connection error: Not authorized"},
				{"TLS with cafile", sb.tls, []string{"--cafile", ca, "-u", "alice", "-P", "secret"}, nil, 0, ""},
				{"TLS v5 wrong password", sb.tls, []string{"-V", "5", "--cafile", ca, "-u", "alice", "-P", "x"}, nil, 135, "Not authorized"},
				{"TLS unknown CA", sb.tls, []string{"--cafile", sb.certs.OtherCACert, "-u", "alice", "-P", "secret"}, nil, 1, "signed by an unknown CA"},
				{"TLS to plain port", sb.plain, []string{"--cafile", ca, "-u", "alice", "-P", "secret"}, nil, 1, "Error: TLS handshake failed"},
				{"TLS client cert", sb.tls, []string{"--cafile", ca, "--cert", sb.certs.ClientCert, "--key", sb.certs.ClientKey,
					"--tls-version", "tlsv1.2", "-u", "alice", "-P", "secret"}, nil, 0, ""},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					tl := &tool{name: "mqpub", env: tc.env}
					r := tl.run(testCtx(t), tc.tg.args(append(tc.args, "-t", "sec/a", "-m", "x", "-q", "1")...)...)
					if r.code != tc.wantCode || !strings.Contains(r.stderr, tc.wantErr) {
						t.Errorf("exit %d stderr %q; want %d and %q", r.code, r.stderr, tc.wantCode, tc.wantErr)
					}
				})
			}
		})
	}
}

// A v5 PUBACK or SUBACK refusal makes the exit status non-zero (mosquitto
// exits 0 with a warning).
func TestRefusalsExitNonZero(t *testing.T) {
	b := clienttest.StartBroker(t, broker.Options{
		Authorizer: broker.AuthorizerFunc(func(ci *broker.ClientInfo, topic string, acc broker.Access) bool {
			return !strings.HasPrefix(topic, "denied")
		}),
	})
	tg := splitAddr(t, b.Addr("tcp").String())
	tests := []struct {
		name     string
		tool     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"v5 PUBACK refused", "mqpub", []string{"-V", "5", "-t", "denied/x", "-m", "x", "-q", "1"}, 135, "publish refused by the broker (PUBACK): not authorized (0x87 = 135)"},
		{"v5 PUBREC refused", "mqpub", []string{"-V", "5", "-t", "denied/x", "-m", "x", "-q", "2"}, 135, "(PUBREC)"},
		{"v311 publish refused silently", "mqpub", []string{"-t", "denied/x", "-m", "x", "-q", "1"}, 0, ""},
		{"v5 all subscriptions refused", "mqsub", []string{"-V", "5", "-t", "denied/#"}, 135, "All subscription requests were denied."},
		{"v311 all subscriptions refused", "mqsub", []string{"-t", "denied/#"}, 128, "failure (return code 128)"},
		{"some refused", "mqsub", []string{"-V", "5", "-t", "denied/#", "-t", "ok", "-E"}, 135, "Warning: subscription to 'denied/#' refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := (&tool{name: tc.tool}).run(testCtx(t), tg.args(tc.args...)...)
			if r.code != tc.wantCode || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("exit %d stderr %q; want %d and %q", r.code, r.stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestWebSocketCLI(t *testing.T) {
	certs := clienttest.NewTLSFiles(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	b := clienttest.StartBroker(t, broker.Options{Listeners: []broker.ListenerConfig{
		{Name: "ws", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt"},
		{Name: "wss", Addr: "127.0.0.1:0", WebSocket: true, WSPath: "/mqtt", TLS: &tls.Config{Certificates: []tls.Certificate{pair}}},
	}})
	urls := map[string]func(t *testing.T) []string{
		"ws": func(*testing.T) []string { return []string{"-L", "ws://" + b.Addr("ws").String() + "/mqtt"} },
		"wss": func(*testing.T) []string {
			return []string{"-L", "wss://" + b.Addr("wss").String() + "/mqtt", "--cafile", certs.CACert}
		},
		// mosquitto 2.0.11 in Debian has no WebSocket listener: a proxy
		// in front of its TCP port. Skipped without mosquitto, except
		// under CI=true where that fails (StartMosquitto).
		"ws→mosquitto": func(t *testing.T) []string {
			m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
			return []string{"-L", "ws://" + clienttest.WebSocketProxy(t, m.Addr()) + "/mqtt"}
		},
	}
	for name, mkURL := range urls {
		t.Run(name, func(t *testing.T) {
			url := mkURL(t)
			wait := bgSub(t, append(url, "-t", "ws/a", "-C", "1", "-q", "1", "-v", "-V", "5")...)
			mustPub(t, append(url, "-t", "ws/a", "-m", "over websocket", "-q", "1")...)
			if r := wait(); r.code != 0 || messages(r.stdout) != "ws/a over websocket\n" {
				t.Errorf("exit %d output %q stderr %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestV5SubscriptionOptions(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		mustPub(t, tg.args("-t", "v5/keep", "-m", "old", "-r", "-q", "1")...)
		// retain-handling 2: no retained messages on subscribe.
		wait := bgSub(t, tg.args("-V", "5", "-t", "v5/#", "--sub-id", "42", "--retain-handling", "2", "-C", "1",
			"-F", "%S %t %p %P %C")...)
		mustPub(t, tg.args("-V", "5", "-t", "v5/new", "-m", "fresh", "-D", "publish", "user-property", "k", "v",
			"-D", "publish", "content-type", "text/plain")...)
		r := wait()
		if want := "42 v5/new fresh k:v text/plain\n"; r.code != 0 || messages(r.stdout) != want {
			t.Errorf("exit %d output %q, want %q", r.code, messages(r.stdout), want)
		}
	})
}
