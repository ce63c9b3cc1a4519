package broker

import (
	"crypto/tls"
	"errors"
	"net"
)

// TLS on the event loop. A TLS connection does its handshake on the
// goroutine path (a job, bounded by the connect timeout, never on the
// loop: it costs milliseconds of CPU), then joins the loop, which reads
// the socket and decrypts what it read: the loop keeps the order of
// TLS connections as of plain TCP ones (doc.go, "Order").
//
// crypto/tls reads its records from a tlsSource: before the connection
// joins the loop, the socket itself (blocking, with deadlines); after,
// only the bytes the loop read from the socket, and errWouldBlock when
// they are used up. crypto/tls keeps a partial record across an error
// whose Temporary() is true and returns that error, so a record that has
// not fully arrived is finished in a later pass. Writes go to the socket
// as before (write jobs).

// tlsSource is the net.Conn under a TLS connection that can join the loop.
type tlsSource struct {
	*net.TCPConn
	onLoop bool   // the loop feeds in (set before the loop reads)
	in     []byte // read by the loop from the socket, not yet taken by TLS
	err    error  // the socket ended (io.EOF) or failed
}

func (s *tlsSource) Read(p []byte) (int, error) {
	if !s.onLoop {
		return s.TCPConn.Read(p)
	}
	if len(s.in) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, errWouldBlock
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	return n, nil
}

// errWouldBlock: nothing more to read until the socket is ready again.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls source: no input yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var _ net.Error = wouldBlock{}

// errOnLoop ends a connection's goroutine when the loop takes it over.
var errOnLoop = errors.New("connection moved to the event loop")

// tlsSourceListener is tls.NewListener whose TCP connections have a
// tlsSource under them (a secure WebSocket listener: the loop reads them
// after the upgrade, loop_ws.go).
type tlsSourceListener struct {
	net.Listener
	cfg *tls.Config
}

func (l tlsSourceListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		return tls.Server(&tlsSource{TCPConn: tc}, l.cfg), nil
	}
	return tls.Server(nc, l.cfg), nil
}
