package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// loopbackName is the name of the loopback interface ("lo", "lo0"), or ""
// when there is none with 127.0.0.1.
func loopbackName(t *testing.T) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				return ifi.Name
			}
		}
	}
	return ""
}

// -A takes an IP address, or an interface (or host) name whose address of
// the remote's family is used.
func TestLocalAddrFor(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		spec, remote, want string
	}{
		{"127.0.0.2", "127.0.0.1", "127.0.0.2"},
		{"::1", "::1", "::1"},
		{"fe80::1%eth7", "fe80::2", "fe80::1%eth7"},
	}
	if lo := loopbackName(t); lo != "" {
		tests = append(tests, struct{ spec, remote, want string }{lo, "127.0.0.1", "127.0.0.1"})
	}
	for _, tc := range tests {
		la, err := localAddrFor(ctx, tc.spec, tc.remote)
		if err != nil {
			t.Errorf("localAddrFor(%q, %q): %v", tc.spec, tc.remote, err)
			continue
		}
		got := la.IP.String()
		if la.Zone != "" {
			got += "%" + la.Zone
		}
		if got != tc.want {
			t.Errorf("localAddrFor(%q, %q) = %s, want %s", tc.spec, tc.remote, got, tc.want)
		}
	}
	for _, tc := range []struct{ spec, remote, want string }{
		{"::1", "127.0.0.1", `local address "::1" (-A) has no IPv4 address to reach 127.0.0.1`},
		{"127.0.0.1", "::1", "has no IPv6 address"},
	} {
		if _, err := localAddrFor(ctx, tc.spec, tc.remote); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("localAddrFor(%q, %q) error %v, want %q", tc.spec, tc.remote, err, tc.want)
		}
	}
}

// A bind failure names -A and the address instead of Go's
// "dial tcp a:0->b:p: bind: ..." text.
func TestBindErrorNamesLocalAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nonLocal := nonLocalIPv4(t)
	_, err = dialStream(ctxT(t), Endpoint{LocalAddr: nonLocal}, ln.Addr().String())
	want := "cannot bind to local address " + nonLocal + " (-A): "
	var de *DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want a DialError with %q", err, want)
	}
}

// nonLocalIPv4 is a documentation address (RFC 5737) this machine does not have.
func nonLocalIPv4(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, cand := range []string{"203.0.113.77", "198.51.100.77", "192.0.2.77"} {
		mine := false
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == cand {
				mine = true
			}
		}
		if !mine {
			return cand
		}
	}
	t.Skip("every candidate address is local")
	return ""
}
