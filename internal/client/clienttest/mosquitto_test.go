package clienttest

import (
	"net"
	"testing"
)

// A port taken before mosquitto binds it is told apart from other start-up
// failures (StartMosquitto then tries new ports), and a start on a free
// port works.
func TestStartMosquittoPortInUse(t *testing.T) {
	RequireBinary(t, "mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if m, inUse := startMosquitto(t, AnonymousConf, port, true); !inUse || m != nil {
		t.Fatalf("mosquitto on a port in use: inUse %v, broker %v", inUse, m)
	}
	m := StartMosquitto(t, AnonymousConf)
	c, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatalf("mosquitto started on %d but does not accept: %v", m.Port, err)
	}
	c.Close()
}
