package clicmd

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// socksServer is a SOCKS5 proxy (RFC 1928, CONNECT only) on 127.0.0.1 for
// tests. Host names are looked up in hosts, never in DNS, so a test can
// show that the proxy, not the client, resolves the broker's name.
type socksServer struct {
	t          *testing.T
	ln         net.Listener
	user, pass string            // required credentials (RFC 1929) when user != ""
	reply      byte              // when not 0, every CONNECT fails with this reply code
	hosts      map[string]string // host name -> IP address

	mu       sync.Mutex
	requests []string // destinations asked for, as host:port
	sources  []string // client addresses, as seen by the proxy
	conns    []net.Conn
	wg       sync.WaitGroup
}

// startSOCKS starts s (with its fields set) and stops it when the test ends.
func startSOCKS(t *testing.T, s *socksServer) *socksServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.t, s.ln = t, ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.dropAll()
		s.wg.Wait()
	})
	return s
}

// url is the --proxy argument; with user set it carries user:pass.
func (s *socksServer) url(user, pass string) string {
	u := "socks5h://"
	if user != "" {
		esc := strings.NewReplacer("%", "%25", ":", "%3A", "@", "%40") // as mosquitto decodes them
		u += esc.Replace(user) + ":" + esc.Replace(pass) + "@"
	}
	return u + s.ln.Addr().String()
}

func (s *socksServer) track(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
}

// dropAll closes every connection through the proxy (a network failure
// as the client sees it).
func (s *socksServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// seen returns the destinations and client addresses so far.
func (s *socksServer) seen() (requests, sources []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...), append([]string(nil), s.sources...)
}

func (s *socksServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:2]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	want := byte(0)
	if s.user != "" {
		want = 2
	}
	offered := false
	for _, m := range methods {
		offered = offered || m == want
	}
	if !offered {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 2 {
		user, pass, ok := readUserPass(c)
		if !ok {
			return
		}
		if user != s.user || pass != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}

	if _, err := io.ReadFull(c, hdr[:4]); err != nil || hdr[0] != 5 {
		return
	}
	cmd := hdr[1]
	var host string
	switch hdr[3] {
	case 1, 4:
		ip := make(net.IP, 4)
		if hdr[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(c, ip); err != nil {
			return
		}
		host = ip.String()
	case 3:
		if _, err := io.ReadFull(c, hdr[:1]); err != nil {
			return
		}
		name := make([]byte, hdr[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return
		}
		host = string(name)
	default:
		s.fail(c, 8)
		return
	}
	var portBytes [2]byte
	if _, err := io.ReadFull(c, portBytes[:]); err != nil {
		return
	}
	port := strconv.Itoa(int(binary.BigEndian.Uint16(portBytes[:])))
	s.mu.Lock()
	s.requests = append(s.requests, net.JoinHostPort(host, port))
	s.sources = append(s.sources, c.RemoteAddr().String())
	s.mu.Unlock()
	switch {
	case s.reply != 0:
		s.fail(c, s.reply)
		return
	case cmd != 1:
		s.fail(c, 7) // command not supported
		return
	}
	if ip, ok := s.hosts[host]; ok {
		host = ip
	} else if net.ParseIP(host) == nil {
		s.fail(c, 4) // host unreachable: unknown name
		return
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 5*time.Second)
	if err != nil {
		s.fail(c, 5)
		return
	}
	s.track(up)
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, portBytes[0], portBytes[1]})
	c.SetDeadline(time.Time{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
}

func (s *socksServer) fail(c net.Conn, code byte) {
	c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
}

func readUserPass(c net.Conn) (user, pass string, ok bool) {
	var b [1]byte
	field := func() (string, bool) {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return "", false
		}
		v := make([]byte, b[0])
		_, err := io.ReadFull(c, v)
		return string(v), err == nil
	}
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 1 {
		return "", "", false
	}
	if user, ok = field(); !ok {
		return
	}
	pass, ok = field()
	return
}
