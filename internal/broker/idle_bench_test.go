package broker

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// BenchmarkIdleConnections reports the broker's memory per idle MQTT
// connection, in process: N clients connect over loopback TCP (tcp/) or
// WebSocket (ws/) (CONNECT, CONNACK) and stay idle, then the Go heap and
// goroutine stacks are measured after garbage collection. pipe/ serves
// net.Pipe ends (Broker.ServeConn) instead of sockets, so that 100,000
// connections fit under a file descriptor limit (this machine's is
// 20,000): it shows that the broker's own memory per connection stays
// flat up to 100,000 (the socket's ~0.5 KiB in the net package and the
// poller's ~0.6 KiB outside the heap are not in it). Run with
// -benchtime=1x, e.g.
//
//	go test -run '^$' -bench IdleConnections -benchtime 1x ./internal/broker
//
// MQKIT_IDLE_HEAPPROFILE=FILE also writes a heap profile of the held
// connections (add -memprofilerate 512 for small objects).
//
// Metrics, per connection:
//   - B/conn: heap in use plus stacks, with the client ends of the
//     sockets subtracted (measured separately with a listener that only
//     accepts): the broker's share, comparable with mqbench idle (which
//     adds the runtime's memory outside the heap and uncollected garbage);
//   - heap-B/conn, stack-B/conn: the two parts;
//   - goroutines/conn.
//
// The figure is tracked, never asserted.
func BenchmarkIdleConnections(b *testing.B) {
	for _, tc := range []struct {
		kind string
		n    int
	}{{"tcp", 1000}, {"tcp", 5000}, {"tcp-busy", 5000}, {"ws", 1000}, {"pipe", 10000}, {"pipe", 100000}} {
		b.Run(fmt.Sprintf("%s/conns=%d", tc.kind, tc.n), func(b *testing.B) {
			var last idleMem
			for i := 0; i < b.N; i++ {
				if tc.kind == "pipe" {
					var rss float64
					last, rss = measureIdlePipes(b, tc.n)
					b.ReportMetric(rss/(1<<20), "process-RSS-MiB")
				} else {
					last = measureIdle(b, tc.n, tc.kind == "ws", tc.kind == "tcp-busy")
				}
			}
			b.ReportMetric(last.perConn, "B/conn")
			b.ReportMetric(last.heap, "heap-B/conn")
			b.ReportMetric(last.stack, "stack-B/conn")
			b.ReportMetric(last.goroutines, "goroutines/conn")
		})
	}
}

type idleMem struct {
	perConn, heap, stack, goroutines float64
}

type memPoint struct {
	heap, stack uint64
	goroutines  int
}

func readMem() memPoint {
	// Two collections: the first frees, the second clears sync.Pools'
	// victim caches and shrinks stacks.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memPoint{heap: ms.HeapInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// measureIdle connects n clients over TCP or WebSocket. The WebSocket
// clients are raw sockets that do the upgrade and framing by hand, so
// that the client ends cost the same as with TCP.
//
// busy: each client publishes one QoS 1 message a second for 3 s (issue
// 17: "no more than 2 KiB per connection while each sends one QoS 1
// message per second"), and memory is read while they do.
func measureIdle(b *testing.B, n int, ws, busy bool) idleMem {
	b.Helper()
	// What one client end of a loopback socket costs in this process.
	clientEnd := measureRawPairs(b, n) / 2

	br, err := New(Options{Listeners: []ListenerConfig{{Name: "l", Addr: "127.0.0.1:0", WebSocket: ws}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := br.Shutdown(ctx); err != nil {
			b.Errorf("Shutdown: %v", err)
		}
	}()
	addr := br.Addr("l").String()
	before := readMem()
	conns := make([]net.Conn, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	parallel(b, n, func(i int) error {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		conns[i] = nc
		pkt, err := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: fmt.Sprintf("idle-%06d", i),
			CleanStart: true, KeepAlive: 600}, mqtt.V311)
		if err != nil {
			return err
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		var ack [6]byte // CONNACK 20 02 00 00, after a frame header
		want := ack[2:]
		if ws {
			if err := wsUpgrade(nc, addr); err != nil {
				return err
			}
			// A masked binary frame (mask key 0) [RFC 6455 5.2].
			pkt = append([]byte{0x82, 0x80 | byte(len(pkt)), 0, 0, 0, 0}, pkt...)
			want = ack[:]
			ack[0], ack[1] = 0x82, 4
		}
		if _, err := nc.Write(pkt); err != nil {
			return err
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil {
			return err
		}
		ack[2], ack[3] = 0x20, 2
		if string(got) != string(want) {
			return fmt.Errorf("CONNACK % x, want % x", got, want)
		}
		return nc.SetDeadline(time.Time{})
	})
	if busy {
		stop := publishEverySecond(b, conns, 3*time.Second)
		defer stop()
	} else {
		// Idle: the loop's sweep trims each connection after trimAfter
		// and, after a burst, returns memory (loop.go).
		time.Sleep(burstQuiet + 3*sweepEvery)
	}
	after := readMem()
	if path := os.Getenv("MQKIT_IDLE_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	return perConn(before, after, n, clientEnd)
}

// measureIdlePipes connects n clients through net.Pipe (ServeConn). Half
// the memory of an unused pipe pair is subtracted, as half a socket pair
// is for TCP. It also returns the whole process's RSS with the n
// connections held: broker, clients and test together.
func measureIdlePipes(b *testing.B, n int) (idleMem, float64) {
	b.Helper()
	before := readMem()
	pairs := make([]net.Conn, 0, 2*n)
	for range n {
		s, c := net.Pipe()
		pairs = append(pairs, s, c)
	}
	clientEnd := float64(readMem().heap-before.heap) / float64(n) / 2
	for _, c := range pairs {
		c.Close()
	}
	pairs = nil

	br, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := br.Shutdown(ctx); err != nil {
			b.Errorf("Shutdown: %v", err)
		}
	}()
	before = readMem()
	clients := make([]net.Conn, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	parallel(b, n, func(i int) error {
		srv, cli := net.Pipe()
		clients[i] = cli
		if err := br.ServeConn(srv, "pipe"); err != nil {
			return err
		}
		pkt, err := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: fmt.Sprintf("idle-%06d", i),
			CleanStart: true, KeepAlive: 600}, mqtt.V311)
		if err != nil {
			return err
		}
		cli.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := cli.Write(pkt); err != nil {
			return err
		}
		var ack [4]byte
		if _, err := io.ReadFull(cli, ack[:]); err != nil {
			return err
		}
		if ack != [4]byte{0x20, 2, 0, 0} {
			return fmt.Errorf("CONNACK % x", ack)
		}
		return cli.SetDeadline(time.Time{})
	})
	after := readMem()
	rss := processRSS(b)
	return perConn(before, after, n, clientEnd), rss
}

// processRSS is this process's resident set size in bytes (Linux), or 0.
func processRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		b.Fatalf("statm: %v", err)
	}
	return float64(resident) * float64(os.Getpagesize())
}

// perConn divides the growth from before to after by n connections, the
// client ends' share subtracted.
func perConn(before, after memPoint, n int, clientEnd float64) idleMem {
	fn := float64(n)
	heap := (float64(after.heap) - float64(before.heap)) / fn
	stack := (float64(after.stack) - float64(before.stack)) / fn
	return idleMem{
		perConn:    heap + stack - clientEnd,
		heap:       heap,
		stack:      stack,
		goroutines: float64(after.goroutines-before.goroutines) / fn,
	}
}

// wsUpgrade does the client side of a WebSocket handshake on nc.
func wsUpgrade(nc net.Conn, host string) error {
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return err
	}
	// Read the response byte by byte: nothing after it may be consumed.
	var resp []byte
	var c [1]byte
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		if _, err := nc.Read(c[:]); err != nil {
			return err
		}
		if resp = append(resp, c[0]); len(resp) > 4096 {
			return fmt.Errorf("handshake response too long")
		}
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101 ") {
		return fmt.Errorf("handshake: %q", resp)
	}
	return nil
}

// writeHeapProfile writes the live heap while the connections are held
// (MQKIT_IDLE_HEAPPROFILE=FILE; run with -memprofilerate 512 for detail).
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// measureRawPairs returns the memory per connected loopback socket pair
// held without any goroutine.
func measureRawPairs(b *testing.B, n int) float64 {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	before := readMem()
	var mu sync.Mutex
	var all []net.Conn
	defer func() {
		for _, c := range all {
			c.Close()
		}
	}()
	accepted := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
		}
		accepted <- nil
	}()
	parallel(b, n, func(int) error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			return err
		}
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
		return nil
	})
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
	after := readMem()
	return (float64(after.heap+after.stack) - float64(before.heap+before.stack)) / float64(n)
}

// parallel runs fn(0..n-1) on a few goroutines and fails b on the first
// error.
func parallel(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// publishEverySecond makes each of conns publish a QoS 1 message a second,
// their turns spread over the second, for d (it returns then); the
// PUBACKs are left in the sockets. The returned func waits for the end.
func publishEverySecond(b *testing.B, conns []net.Conn, d time.Duration) func() {
	b.Helper()
	const workers = 8
	n := len(conns)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				for i := w; i < n; i += workers {
					due := start.Add(time.Duration(k)*time.Second + time.Second*time.Duration(i)/time.Duration(n))
					if due.Sub(start) >= d {
						return
					}
					time.Sleep(time.Until(due))
					pkt, err := mqtt.Append(nil, &mqtt.Publish{Topic: fmt.Sprintf("busy/%d", i), Payload: []byte("0123456789"),
						QoS: 1, PacketID: uint16(k + 1)}, mqtt.V311)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := conns[i].Write(pkt); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return func() {}
}
