package broker

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Write jobs start on push and end when the queue is empty. Producers
// racing with a job that is about to end must never be left unsent
// (a lost wake-up), and each producer's items go out in order.
func TestWriteJobsLoseNothing(t *testing.T) {
	tests := []struct {
		name      string
		producers int
		each      int
		pause     int  // a producer yields every pause items, so jobs end and restart often
		tcp       bool // over TCP: producers defer as read jobs do, and flush inline
	}{
		{"one producer, bursts", 1, 3000, 0, false},
		{"four producers, bursts", 4, 1500, 0, false},
		{"four producers, trickle", 4, 300, 1, false},
		{"tcp, one producer, bursts", 1, 3000, 0, true},
		{"tcp, four producers, bursts", 4, 1500, 0, true},
		{"tcp, four producers, trickle", 4, 300, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { close(b.done) }) // idle workers end
			srv, cli := net.Pipe()
			if tt.tcp {
				srv, cli = tcpPair(t)
			}
			defer cli.Close()
			c := newConn(b, srv, &listener{}, peerAddr{})
			defer srv.Close()
			if tt.tcp && !c.tcp {
				t.Fatal("no raw connection for a TCP socket: inline flushes are not tested")
			}
			var wg sync.WaitGroup
			for p := range tt.producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Over TCP each producer plays a read job: its pushes are
					// deferred, and it flushes every few items (and at the
					// end), sometimes pushing without deferral in between.
					var by *conn
					if tt.tcp {
						by = &conn{b: b, x: &connExtra{deferred: new([]*conn)}} // a read job: only its deferred list is used
						defer by.flushDeferred()
					}
					for i := range tt.each {
						// Packet id: producer in the high bits, sequence below.
						if by != nil && i%7 == 3 {
							c.enqueueAck(mqtt.PUBACK, uint16(p<<12|i+1), 0, nil)
						} else {
							c.enqueueAck(mqtt.PUBACK, uint16(p<<12|i+1), 0, by)
						}
						if by != nil && i%5 == 0 {
							by.flushDeferred()
						}
						if tt.pause > 0 && i%tt.pause == 0 {
							runtime.Gosched() // let the write job drain and end
						}
					}
				}()
			}
			cli.SetReadDeadline(time.Now().Add(testTimeout))
			r := mqtt.NewReader(cli, 0)
			next := make([]int, tt.producers)
			for n := 0; n < tt.producers*tt.each; n++ {
				pk, err := r.ReadPacket()
				if err != nil {
					t.Fatalf("after %d acks: %v", n, err)
				}
				id := int(pk.(*mqtt.Ack).PacketID)
				p, seq := id>>12, id&0xfff
				if seq != next[p]+1 {
					t.Fatalf("producer %d: ack %d after %d", p, seq, next[p])
				}
				next[p] = seq
			}
			wg.Wait()
			// The last job ends and gives its buffer back.
			deadline := time.Now().Add(testTimeout)
			for c.flags.has(flagWriting) && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			c.wmu.Lock()
			held := c.w.bw != nil
			c.wmu.Unlock()
			if c.flags.has(flagWriting) || held {
				t.Fatalf("write job still running (%v) or buffer held (%v) with an empty queue", c.flags.has(flagWriting), held)
			}
		})
	}
}

// Workers end when the broker shuts down, also those parked idle, and a
// job submitted afterwards still runs.
func TestWorkersEndOnShutdown(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A read job on a fresh connection blocks until a packet arrives; a
	// PINGREQ before CONNECT then ends it with a protocol error.
	start := func() (*conn, net.Conn) {
		srv, cli := net.Pipe()
		t.Cleanup(func() { srv.Close(); cli.Close() })
		c := newConn(b, srv, &listener{}, peerAddr{})
		c.x.g = &goReader{r: mqtt.NewReader(countingReader{c}, 0)} // as serve does
		c.x.g.jobDone.Add(1)
		b.workers.submit(job{c: c, kind: jobRead})
		return c, cli
	}
	finish := func(c *conn, cli net.Conn) {
		t.Helper()
		cli.SetWriteDeadline(time.Now().Add(testTimeout))
		if _, err := cli.Write([]byte{0xc0, 0}); err != nil {
			t.Fatal(err)
		}
		c.x.g.jobDone.Wait()
		if c.x.g.jobErr == nil {
			t.Fatal("a PINGREQ before CONNECT was accepted")
		}
	}
	idle := func() int {
		b.workers.mu.Lock()
		defer b.workers.mu.Unlock()
		return len(b.workers.idle)
	}
	// Eight jobs blocked at once need eight workers; all park afterwards.
	var conns []*conn
	var clis []net.Conn
	for range 8 {
		c, cli := start()
		conns, clis = append(conns, c), append(clis, cli)
	}
	for i := range conns {
		finish(conns[i], clis[i])
	}
	deadline := time.Now().Add(testTimeout)
	for idle() < 8 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := idle(); n != 8 {
		t.Fatalf("%d idle workers after eight concurrent jobs, want 8", n)
	}
	close(b.done)
	for idle() > 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := idle(); n > 0 {
		t.Fatalf("%d idle workers after shutdown", n)
	}
	c, cli := start()
	finish(c, cli)
	if n := idle(); n != 0 {
		t.Fatalf("a worker parked after shutdown")
	}
}
