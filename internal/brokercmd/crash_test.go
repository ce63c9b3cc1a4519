package brokercmd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestMain lets the test binary act as mqbroker (MQBROKER_CHILD=1) so the
// crash test can kill a real broker process.
func TestMain(m *testing.M) {
	if os.Getenv("MQBROKER_CHILD") == "1" {
		args := append([]string{"mqbroker"}, strings.Fields(os.Getenv("MQBROKER_ARGS"))...)
		os.Exit(Main(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func startChild(t *testing.T, args string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQBROKER_CHILD=1", "MQBROKER_ARGS="+args)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// rawClient is a minimal codec-based client for the crash test.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *mqtt.Reader
	mu sync.Mutex
}

func rawConnect(t *testing.T, addr, id string, clean bool) (*rawClient, *mqtt.Connack) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, r: mqtt.NewReader(nc, 0)}
	c.r.Version = mqtt.V311
	if err := c.send(&mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: clean, KeepAlive: 60}); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := c.r.ReadPacket()
	if err != nil {
		t.Fatalf("connack: %v", err)
	}
	ca := p.(*mqtt.Connack)
	if ca.Code != mqtt.Success {
		t.Fatalf("refused: %v", ca.Code)
	}
	return c, ca
}

func (c *rawClient) send(p mqtt.Packet) error {
	b, err := mqtt.Append(nil, p, mqtt.V311)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = c.nc.Write(b)
	return err
}

// TestCrashKeepsAcknowledged kills a persistent broker with SIGKILL while a
// publisher streams QoS 1 and QoS 2 messages to an offline durable session,
// restarts it on the same data directory, and checks that every message
// the broker acknowledged (PUBACK / PUBREC) is delivered, in order, QoS 2
// exactly once, and that the retained message is back.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	port := strconv.Itoa(clienttest.FreePort(t))
	addr := "127.0.0.1:" + port
	args := "-p " + port + " --data " + dir + " -q"
	broker := startChild(t, args)
	waitPort(t, addr)

	// The durable subscriber creates its session and goes away.
	sub, _ := rawConnect(t, addr, "crash-sub", false)
	sub.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "crash/#", QoS: 2}}})
	if p, err := sub.r.ReadPacket(); err != nil || p.Type() != mqtt.SUBACK {
		t.Fatalf("suback: %v %v", p, err)
	}
	sub.send(&mqtt.Disconnect{})
	sub.nc.Close()

	// The publisher: a retained message, then a stream with up to 16
	// messages unacknowledged, alternating QoS 1 (crash/q1) and QoS 2
	// (crash/q2). acked[q] records the highest sequence acknowledged.
	pub, _ := rawConnect(t, addr, "crash-pub", true)
	if err := pub.send(&mqtt.Publish{Topic: "crash/retained", Payload: []byte("kept"), QoS: 1, Retain: true, PacketID: 1}); err != nil {
		t.Fatal(err)
	}
	pub.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if p, err := pub.r.ReadPacket(); err != nil || p.Type() != mqtt.PUBACK {
		t.Fatalf("retained puback: %v %v", p, err)
	}
	var mu sync.Mutex
	acked := map[mqtt.QoS]int{}
	idInfo := map[uint16][2]int{} // packet id -> {qos, seq}
	window := make(chan struct{}, 16)
	ackedTotal := make(chan struct{}, 100000)
	go func() { // ack reader
		for {
			pub.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			p, err := pub.r.ReadPacket()
			if err != nil {
				return
			}
			a, ok := p.(*mqtt.Ack)
			if !ok {
				continue
			}
			mu.Lock()
			info := idInfo[a.PacketID]
			switch a.Kind {
			case mqtt.PUBACK, mqtt.PUBREC:
				if info[1] > acked[mqtt.QoS(info[0])] {
					acked[mqtt.QoS(info[0])] = info[1]
				}
				ackedTotal <- struct{}{}
				if a.Kind == mqtt.PUBACK {
					<-window
				}
			}
			mu.Unlock()
			if a.Kind == mqtt.PUBREC {
				pub.send(&mqtt.Ack{Kind: mqtt.PUBREL, PacketID: a.PacketID})
			} else if a.Kind == mqtt.PUBCOMP {
				<-window
			}
		}
	}()
	sendDone := make(chan struct{})
	stop := make(chan struct{})
	go func() { // sender: until the connection breaks or stop
		defer close(sendDone)
		seq := map[mqtt.QoS]int{}
		for i := 0; i < 20000; i++ {
			q := mqtt.QoS(1 + i%2)
			seq[q]++
			id := uint16(2 + i%1000)
			select {
			case window <- struct{}{}:
			case <-stop:
				return
			}
			mu.Lock()
			idInfo[id] = [2]int{int(q), seq[q]}
			mu.Unlock()
			p := &mqtt.Publish{Topic: fmt.Sprintf("crash/q%d", q), Payload: []byte(strconv.Itoa(seq[q])), QoS: q, PacketID: id}
			if err := pub.send(p); err != nil {
				return
			}
		}
	}()
	// Kill the broker mid-stream, after a few hundred acknowledgements.
	for n := 0; n < 300; n++ {
		select {
		case <-ackedTotal:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d messages acknowledged", n)
		}
	}
	if err := broker.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	broker.Wait()
	close(stop)
	pub.nc.Close()
	<-sendDone
	mu.Lock()
	want := map[mqtt.QoS]int{1: acked[1], 2: acked[2]}
	mu.Unlock()
	t.Logf("acknowledged before SIGKILL: QoS 1 up to %d, QoS 2 up to %d", want[1], want[2])

	// Restart on the same data and collect what the session gets.
	startChild(t, args)
	waitPort(t, addr)
	sub, ca := rawConnect(t, addr, "crash-sub", false)
	if !ca.SessionPresent {
		t.Fatal("durable session lost: Session Present 0 after restart")
	}
	got := map[mqtt.QoS][]int{}
	seenQ2 := map[int]bool{}
	for got1, got2 := 0, 0; ; {
		sub.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		p, err := sub.r.ReadPacket()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break // nothing more queued
			}
			t.Fatalf("read: %v", err)
		}
		switch p := p.(type) {
		case *mqtt.Publish:
			n, _ := strconv.Atoi(string(p.Payload))
			switch p.Topic {
			case "crash/q1":
				got[1] = append(got[1], n)
				got1 = max(got1, n)
				sub.send(&mqtt.Ack{Kind: mqtt.PUBACK, PacketID: p.PacketID})
			case "crash/q2":
				if seenQ2[n] {
					t.Errorf("QoS 2 message %d delivered twice", n)
				}
				seenQ2[n] = true
				got[2] = append(got[2], n)
				got2 = max(got2, n)
				sub.send(&mqtt.Ack{Kind: mqtt.PUBREC, PacketID: p.PacketID})
			}
		case *mqtt.Ack:
			if p.Kind == mqtt.PUBREL {
				sub.send(&mqtt.Ack{Kind: mqtt.PUBCOMP, PacketID: p.PacketID})
			}
		}
	}
	for _, q := range []mqtt.QoS{1, 2} {
		// Every acknowledged message 1..want[q] arrives, in order (QoS 1
		// may repeat a message, never reorder).
		next := 1
		for _, n := range got[q] {
			if n == next {
				next++
			} else if n > next {
				t.Fatalf("QoS %d: message %d arrived before %d (order broken or message lost): %v", q, n, next, got[q])
			}
		}
		if next-1 < want[q] {
			t.Fatalf("QoS %d: acknowledged up to %d, delivered only up to %d", q, want[q], next-1)
		}
	}
	// The retained message survived too.
	late, _ := rawConnect(t, addr, "crash-late", true)
	late.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "crash/retained", QoS: 1}}})
	for {
		late.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := late.r.ReadPacket()
		if err != nil {
			t.Fatalf("retained message lost: %v", err)
		}
		if m, ok := p.(*mqtt.Publish); ok {
			if string(m.Payload) != "kept" || !m.Retain {
				t.Fatalf("retained: %s", mqtt.Describe(m))
			}
			break
		}
	}
}
