package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseSOCKS5URL(t *testing.T) {
	tests := []struct {
		in   string
		want SOCKS5
	}{
		{"socks5h://proxy", SOCKS5{Host: "proxy", Port: 1080}},
		{"socks5h://proxy:1081", SOCKS5{Host: "proxy", Port: 1081}},
		{"SOCKS5H://proxy/", SOCKS5{Host: "proxy", Port: 1080}},
		{"socks5h://bob@proxy", SOCKS5{Host: "proxy", Port: 1080, Username: "bob"}},
		{"socks5h://bob:s3cr:t@10.0.0.1:9050", SOCKS5{Host: "10.0.0.1", Port: 9050, Username: "bob", Password: "s3cr:t"}},
		{"socks5h://b%40b:p%40ss%25@proxy", SOCKS5{Host: "proxy", Port: 1080, Username: "b@b", Password: "p@ss%"}},
		{"socks5h://u:p@x@proxy", SOCKS5{Host: "proxy", Port: 1080, Username: "u", Password: "p@x"}},
		{"socks5h://[::1]:1082", SOCKS5{Host: "::1", Port: 1082}},
		{"socks5h://[::1]", SOCKS5{Host: "::1", Port: 1080}},
	}
	for _, tc := range tests {
		got, err := ParseSOCKS5URL(tc.in)
		if err != nil || *got != tc.want {
			t.Errorf("ParseSOCKS5URL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	bad := []struct{ in, want string }{
		{"socks5://proxy", "unsupported proxy protocol"},
		{"http://proxy:3128", "unsupported proxy protocol"},
		{"proxy:1080", "unsupported proxy protocol"},
		{"socks5h://", "no proxy host"},
		{"socks5h://u:p@", "no proxy host"},
		{"socks5h://proxy:0", `invalid proxy port "0"`},
		{"socks5h://proxy:99999", "invalid proxy port"},
		{"socks5h://proxy:", `invalid proxy port ""`},
		{"socks5h://::1:1080", "IPv6 addresses in brackets"},
		{"socks5h://[::1:1080", "missing ']'"},
		{"socks5h://@proxy", "empty user name"},
		{"socks5h://u%zz@proxy", "bad escape in the user name"},
		{"socks5h://" + strings.Repeat("u", 256) + "@proxy", "255 bytes"},
		{"socks5h://proxy/path", "no proxy host"},
	}
	for _, tc := range bad {
		if _, err := ParseSOCKS5URL(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSOCKS5URL(%q) error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// socksScript is the proxy side of one handshake over a net.Pipe: expect
// checks that the client sent exactly want, send answers.
type socksScript struct {
	t    *testing.T
	conn net.Conn
}

func (s socksScript) expect(want ...byte) bool {
	s.t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(s.conn, got); err != nil {
		s.t.Errorf("proxy: reading %d bytes: %v", len(want), err)
		return false
	}
	if !bytes.Equal(got, want) {
		s.t.Errorf("proxy got % x, want % x", got, want)
		return false
	}
	return true
}

func (s socksScript) send(b ...byte) { s.conn.Write(b) }

func TestSOCKS5Handshake(t *testing.T) {
	okReply := []byte{5, 0, 0, 1, 10, 0, 0, 1, 0x07, 0x5b} // bound to 10.0.0.1:1883
	tests := []struct {
		name      string
		proxy     SOCKS5
		addr      string
		script    func(s socksScript)
		wantErr   string // "" for success
		wantReply byte
	}{
		{"no auth, host name resolved by the proxy", SOCKS5{}, "broker.example:1883", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
			if s.expect(append(append([]byte{5, 1, 0, 3, 14}, "broker.example"...), 0x07, 0x5b)...) {
				s.send(okReply...)
			}
		}, "", 0},
		{"user name and password, IPv4 target", SOCKS5{Username: "bob", Password: "pw"}, "127.0.0.1:8883", func(s socksScript) {
			s.expect(5, 2, 0, 2)
			s.send(5, 2)
			s.expect(1, 3, 'b', 'o', 'b', 2, 'p', 'w')
			s.send(1, 0)
			if s.expect(5, 1, 0, 1, 127, 0, 0, 1, 0x22, 0xb3) {
				// Bound address given as a domain name, to be skipped.
				s.send(5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0x07, 0x5b)
			}
		}, "", 0},
		{"IPv6 target", SOCKS5{}, "[2001:db8::1]:1883", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
			ip := net.ParseIP("2001:db8::1")
			if s.expect(append(append([]byte{5, 1, 0, 4}, ip...), 0x07, 0x5b)...) {
				s.send(5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1)
			}
		}, "", 0},
		{"proxy offers user/pass too but takes no auth", SOCKS5{Username: "bob"}, "h:1", func(s socksScript) {
			s.expect(5, 2, 0, 2)
			s.send(5, 0)
			if s.expect(5, 1, 0, 3, 1, 'h', 0, 1) {
				s.send(okReply...)
			}
		}, "", 0},
		{"wrong password", SOCKS5{Username: "bob", Password: "nope"}, "h:1", func(s socksScript) {
			s.expect(5, 2, 0, 2)
			s.send(5, 2)
			s.expect(1, 3, 'b', 'o', 'b', 4, 'n', 'o', 'p', 'e')
			s.send(1, 1)
		}, `rejected the user name or password for "bob"`, 0},
		{"authentication required", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0xff)
		}, "requires authentication: give it in --proxy socks5h://user:password@host", 0},
		{"no acceptable method with credentials", SOCKS5{Username: "bob"}, "h:1", func(s socksScript) {
			s.expect(5, 2, 0, 2)
			s.send(5, 0xff)
		}, "accepts neither user name/password nor no authentication", 0},
		{"user/pass chosen but not offered", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 2)
		}, "did not offer", 0},
		{"connection not allowed", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
			if s.expect(5, 1, 0, 3, 1, 'h', 0, 1) {
				s.send(5, 2, 0, 1, 0, 0, 0, 0, 0, 0)
			}
		}, "could not connect to h:1: connection not allowed by ruleset (SOCKS5 reply 2)", 2},
		{"target refused", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
			if s.expect(5, 1, 0, 3, 1, 'h', 0, 1) {
				s.send(5, 5, 0, 1, 0, 0, 0, 0, 0, 0)
			}
		}, "connection refused (SOCKS5 reply 5)", 5},
		{"unknown reply code", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
			if s.expect(5, 1, 0, 3, 1, 'h', 0, 1) {
				s.send(5, 0x42, 0, 1, 0, 0, 0, 0, 0, 0)
			}
		}, "unknown failure (SOCKS5 reply 66)", 0x42},
		{"not a SOCKS5 proxy", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send('H', 'T')
		}, "not a SOCKS5 proxy (it answered with version 72)", 0},
		{"proxy hangs up", SOCKS5{}, "h:1", func(s socksScript) {
			s.expect(5, 1, 0)
		}, "closed the connection during the SOCKS5 handshake", 0},
		{"host name too long", SOCKS5{}, strings.Repeat("h", 256) + ":1", func(s socksScript) {
			s.expect(5, 1, 0)
			s.send(5, 0)
		}, "longer than SOCKS5's 255 bytes", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			defer cli.Close()
			srv.SetDeadline(time.Now().Add(10 * time.Second))
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer srv.Close()
				tc.script(socksScript{t: t, conn: srv})
				if tc.wantErr == "" {
					// The tunnel carries the client's bytes from here on.
					socksScript{t: t, conn: srv}.expect('M', 'Q')
				}
			}()
			p := tc.proxy
			p.Host, p.Port = "proxy.test", 1080
			err := p.connect(ctxT(t), cli, tc.addr)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				cli.Write([]byte("MQ"))
			} else {
				var pe *ProxyError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) || pe.Reply != tc.wantReply {
					t.Errorf("err = %v (%#v); want ProxyError with %q, reply %d", err, pe, tc.wantErr, tc.wantReply)
				} else if !strings.HasPrefix(err.Error(), "SOCKS5 proxy proxy.test:1080: ") {
					t.Errorf("err = %q does not name the proxy", err)
				}
				cli.Close()
			}
			<-done
		})
	}
}

// A proxy that never answers is abandoned when the context ends.
func TestSOCKS5HandshakeContext(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	defer srv.Close()
	go io.Copy(io.Discard, srv) // reads the greeting, never answers
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- (&SOCKS5{Host: "p", Port: 1}).connect(ctx, cli, "h:1") }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handshake did not stop when the context ended")
	}
}

// scriptConn is a net.Conn whose reads come from a fixed byte string (a
// proxy's answers) and whose writes are dropped.
type scriptConn struct {
	net.Conn // nil: only Read, Write, Close and SetDeadline are used
	r        *bytes.Reader
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSOCKS5Handshake: whatever a (hostile) proxy answers, the handshake
// ends with success or a *ProxyError, never a panic or a hang.
func FuzzSOCKS5Handshake(f *testing.F) {
	f.Add([]byte{5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x07, 0x5b}, false)
	f.Add([]byte{5, 2, 1, 0, 5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 1}, true)
	f.Add([]byte{5, 0, 5, 4, 0, 4}, false)
	f.Add([]byte{5, 0xff}, true)
	f.Fuzz(func(t *testing.T, answers []byte, auth bool) {
		p := &SOCKS5{Host: "proxy", Port: 1080}
		if auth {
			p.Username, p.Password = "alice", "secret"
		}
		err := p.handshake(&scriptConn{r: bytes.NewReader(answers)}, "broker.example:1883")
		var pe *ProxyError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("answers % x: error %T %v, want *ProxyError", answers, err, err)
		}
	})
}
