package broker

import "testing"

// RemoteAddr gives back what SetRemoteAddr was given, byte for byte
// (mosquitto's log lines and the web view show it), whether it was kept
// inline (canonical IPv4) or out of line.
func TestClientInfoRemoteAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		inline bool
	}{
		{"127.0.0.1:54321", true},
		{"192.0.2.1:0", true},
		{"255.255.255.255:65535", true},
		{"0.0.0.0:1", true},
		{"", false},
		{"[2001:db8::42]:4100", false},
		{"[::ffff:192.0.2.1]:1883", false}, // IPv4-mapped: formatted as IPv6
		{"[fe80::1%eth0]:1883", false},
		{"192.0.2.1:01883", false}, // a port with a leading zero would not come back
		{"192.0.2.1:65536", false},
		{"192.0.2.1", false},
		{"@mqtt.sock", false},
		{"/run/mqtt.sock", false},
	} {
		var ci ClientInfo
		ci.SetRemoteAddr("[2001:db8::9]:9") // replaced, not kept
		ci.SetRemoteAddr(tc.addr)
		if got := ci.RemoteAddr(); got != tc.addr {
			t.Errorf("SetRemoteAddr(%q): RemoteAddr %q", tc.addr, got)
		}
		if ci.isIP4 != tc.inline {
			t.Errorf("SetRemoteAddr(%q): inline %v, want %v", tc.addr, ci.isIP4, tc.inline)
		}
		if (ci.other != nil) != (!tc.inline && tc.addr != "") {
			t.Errorf("SetRemoteAddr(%q): out of line %v", tc.addr, ci.other != nil)
		}
	}
}

// An IPv4 client's address costs no allocation (issue 17).
func TestClientInfoIPv4Inline(t *testing.T) {
	var ci ClientInfo
	if n := testing.AllocsPerRun(100, func() { ci.SetRemoteAddr("198.51.100.7:40000") }); n != 0 {
		t.Errorf("SetRemoteAddr of an IPv4 address: %v allocations", n)
	}
}

// A copy of a ClientInfo (the Authorizer's, a message's source) is not
// changed by SetRemoteAddr on the original, nor the original by the
// copy's.
func TestClientInfoCopiesIndependent(t *testing.T) {
	var a ClientInfo
	a.SetRemoteAddr("[2001:db8::1]:1")
	b := a
	b.SetRemoteAddr("[2001:db8::2]:2")
	if got := a.RemoteAddr(); got != "[2001:db8::1]:1" {
		t.Errorf("the original changed with its copy: %q", got)
	}
	if got := b.RemoteAddr(); got != "[2001:db8::2]:2" {
		t.Errorf("the copy: %q", got)
	}
}
