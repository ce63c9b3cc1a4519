package clienttest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// NATSNode is one nats-server process of a NATSCluster.
type NATSNode struct {
	Name      string
	Port      int // NATS clients
	RoutePort int // cluster routes
	MQTTPort  int // MQTT clients
	Dir       string
	PID       int

	mu       sync.Mutex
	log      strings.Builder
	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once
}

// NATSCluster is a cluster of nats-server nodes on loopback, each with
// JetStream (stored under the test's temporary directory) and an MQTT
// listener: the configuration the README's "Scaling out" section shows.
type NATSCluster struct {
	Nodes []*NATSNode
}

// NATSConf is the configuration of one node: server name, client port,
// JetStream directory, cluster (routes to every node, itself included,
// as nats-server allows) and MQTT listener.
func NATSConf(name string, port, routePort, mqttPort int, storeDir string, routePorts []int) string {
	routes := make([]string, len(routePorts))
	for i, p := range routePorts {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 256MB
}
cluster {
  name: mqkit
  listen: 127.0.0.1:%d
  routes: [%s]
}
mqtt {
  listen: 127.0.0.1:%d
}
`, name, port, storeDir, routePort, strings.Join(routes, ", "), mqttPort)
}

// StartNATSCluster starts n nats-server nodes as one cluster on free
// loopback ports and waits until every node accepts MQTT connections
// (JetStream has a meta leader and the MQTT streams exist). The test is
// skipped when nats-server is not installed, and fails under CI=true
// (testtool). Every node is killed when the test ends.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	bin := testtool.Require(t, "nats-server")
	c := &NATSCluster{}
	var routePorts []int
	used := map[int]bool{}
	free := func() int {
		for {
			p := FreePort(t)
			if !used[p] {
				used[p] = true
				return p
			}
		}
	}
	for i := range n {
		nd := &NATSNode{Name: "n" + strconv.Itoa(i+1), Port: free(), RoutePort: free(), MQTTPort: free(),
			Dir: t.TempDir(), exited: make(chan struct{})}
		c.Nodes = append(c.Nodes, nd)
		routePorts = append(routePorts, nd.RoutePort)
	}
	for _, nd := range c.Nodes {
		conf := NATSConf(nd.Name, nd.Port, nd.RoutePort, nd.MQTTPort, filepath.Join(nd.Dir, "js"), routePorts)
		path := filepath.Join(nd.Dir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		nd.start(t, bin, path)
	}
	t.Cleanup(func() {
		for _, nd := range c.Nodes {
			nd.Kill()
		}
		if t.Failed() {
			for _, nd := range c.Nodes {
				t.Logf("nats-server %s log (last lines):\n%s", nd.Name, nd.tail(30))
			}
		}
	})
	deadline := time.Now().Add(45 * time.Second)
	for _, nd := range c.Nodes {
		if err := waitMQTT(nd.MQTTAddr(), deadline); err != nil {
			t.Fatalf("nats-server %s: MQTT not ready: %v\n%s", nd.Name, err, nd.tail(30))
		}
	}
	return c
}

func (nd *NATSNode) start(t testing.TB, bin, conf string) {
	t.Helper()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Dir = nd.Dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.cmd, nd.PID = cmd, cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			nd.mu.Lock()
			nd.log.WriteString(sc.Text() + "\n")
			nd.mu.Unlock()
		}
		cmd.Wait()
		close(nd.exited)
	}()
}

// waitMQTT connects to addr until the server accepts a connection and a
// QoS 1 subscription (nats-server refuses them until JetStream has its
// leaders and the MQTT streams), or deadline passes.
func waitMQTT(addr string, deadline time.Time) error {
	var last error
	for time.Now().Before(deadline) {
		if last = MQTTProbe(addr, "mqkit-ready", true); last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// MQTTProbe opens one MQTT 3.1.1 connection (clean session, client id
// id) and, with subscribe, makes a QoS 1 subscription; it returns nil
// when the server accepted both, within 5 seconds.
func MQTTProbe(addr, id string, subscribe bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	connect := []byte{0x10, byte(10 + 2 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30, 0, byte(len(id))}
	connect = append(connect, id...)
	if _, err := c.Write(connect); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return fmt.Errorf("CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return fmt.Errorf("CONNACK % x", ack)
	}
	if subscribe {
		const filter = "mqkit/ready"
		sub := []byte{0x82, byte(2 + 2 + len(filter) + 1), 0, 1, 0, byte(len(filter))}
		sub = append(append(sub, filter...), 1)
		if _, err := c.Write(sub); err != nil {
			return err
		}
		suback := make([]byte, 5)
		if _, err := io.ReadFull(c, suback); err != nil {
			return fmt.Errorf("SUBACK: %w", err)
		}
		if suback[0] != 0x90 || suback[4] != 1 {
			return fmt.Errorf("SUBACK % x", suback)
		}
	}
	c.Write([]byte{0xE0, 0}) // DISCONNECT
	return nil
}

// MQTTAddr is 127.0.0.1:MQTTPort.
func (nd *NATSNode) MQTTAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(nd.MQTTPort))
}

// Kill stops the node at once (SIGKILL, a crash) and waits for it to
// exit. Calling it again is harmless.
func (nd *NATSNode) Kill() {
	nd.stopOnce.Do(func() {
		nd.cmd.Process.Signal(syscall.SIGKILL)
		<-nd.exited
	})
}

// Log returns what the node logged so far.
func (nd *NATSNode) Log() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.log.String()
}

func (nd *NATSNode) tail(n int) string {
	lines := strings.Split(strings.TrimRight(nd.Log(), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// MQTTAddrs lists the nodes' MQTT addresses.
func (c *NATSCluster) MQTTAddrs() []string {
	out := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		out[i] = nd.MQTTAddr()
	}
	return out
}
