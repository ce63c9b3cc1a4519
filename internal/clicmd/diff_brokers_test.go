package clicmd

// The brokers of the differential test (diff_harness_test.go): a fresh
// mosquitto 2.0.11 or mqbroker per run, with what the harness needs to
// know when the broker has handled a tool's packets.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// diffBroker is a broker started for one run, with its log, in which the
// harness finds its points of synchronisation: the mosquitto -v lines
// both brokers print ("New connection from", "Sending SUBACK to", "Client
// X disconnected.").
type diffBroker struct {
	port int
	mu   sync.Mutex
	log  bytes.Buffer
	stop func()
	// conns, when set, counts the open connections (mqbroker); else the
	// log does (mosquitto logs the end of every connection).
	conns func() int
}

func (b *diffBroker) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.Write(p)
}

func (b *diffBroker) logText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

var connEnd = regexp.MustCompile(`(?m)(Client \S+ (disconnected|closed its connection|has exceeded timeout)|Socket error on client)`)

// open is the number of network connections the broker has not closed.
func (b *diffBroker) open() int {
	if b.conns != nil {
		return b.conns()
	}
	l := b.logText()
	return strings.Count(l, "New connection from") - len(connEnd.FindAllStringIndex(l, -1))
}

// subacks is the number of SUBACK and UNSUBACK packets the broker sent.
func (b *diffBroker) subacks() int {
	l := b.logText()
	return strings.Count(l, "Sending SUBACK to") + strings.Count(l, "Sending UNSUBACK to")
}

// until polls cond every few milliseconds until it holds or ctx ends.
func until(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(3 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// startDiffMosquitto runs "mosquitto -p PORT -v" (local only mode:
// loopback, anonymous clients). The port is below the kernel's ephemeral
// range (32768 and up), so that no listener on port 0 (mqbroker) and no
// outgoing connection can take it between the check and mosquitto's bind;
// a concurrent run taking it is seen in the log, and another port is tried.
func startDiffMosquitto(ctx context.Context, e *diffEnv, auth bool) (*diffBroker, error) {
	var lastErr error
	for range 20 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		l.Close()
		b := &diffBroker{port: port}
		cmd := exec.Command("mosquitto", "-p", strconv.Itoa(port), "-v")
		if auth {
			conf := filepath.Join(e.dir, "mosquitto-"+strconv.Itoa(port)+".conf")
			text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, e.passwd)
			if os.Geteuid() == 0 {
				text = "user root\n" + text // else it cannot read the test's files
			}
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, err
			}
			cmd = exec.Command("mosquitto", "-c", conf, "-v")
		}
		cmd.Stdout, cmd.Stderr = b, b
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		b.stop = func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = until(wctx, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			return strings.Contains(b.logText(), " running\n") // "mosquitto version 2.0.11 running"
		})
		cancel()
		select {
		case <-exited:
			lastErr = fmt.Errorf("mosquitto -p %d exited:\n%s", port, b.logText())
			continue
		default:
		}
		if err != nil {
			b.stop()
			return nil, fmt.Errorf("mosquitto did not start: %v\n%s", err, b.logText())
		}
		// Taken meanwhile on one address family only, mosquitto runs on
		// the other: retry.
		if !strings.Contains(b.logText(), "Error:") {
			return b, nil
		}
		b.stop()
		lastErr = fmt.Errorf("mosquitto -p %d:\n%s", port, b.logText())
	}
	return nil, lastErr
}

// startDiffMqbroker runs mqbroker in process with mosquitto -v logging.
func startDiffMqbroker(_ context.Context, _ *diffEnv, auth bool) (*diffBroker, error) {
	b := &diffBroker{}
	h := slog.NewTextHandler(io.Discard, nil)
	logger := slog.New(&lineHandler{w: b, Handler: h})
	opts := broker.Options{
		Listeners: []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}},
		Logger:    logger, Verbose: true,
	}
	if auth {
		opts.Authenticator = broker.AuthenticatorFunc(func(ci *broker.ClientInfo, password []byte) mqtt.ReasonCode {
			if p, ok := diffUsers[ci.Username]; ok && ci.HasUsername && string(password) == p {
				return mqtt.Success
			}
			return mqtt.NotAuthorized
		})
	}
	br, err := broker.New(opts)
	if err != nil {
		return nil, err
	}
	if err := br.Start(); err != nil {
		return nil, err
	}
	// Connections come through a listener of our own, to count them:
	// mqbroker does not log the end of one that never sent CONNECT.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var open atomic.Int64
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			open.Add(1)
			br.ServeConn(&countedConn{Conn: nc, closed: func() { open.Add(-1) }}, "tcp")
		}
	}()
	b.conns = func() int { return int(open.Load()) }
	b.port = ln.Addr().(*net.TCPAddr).Port
	b.stop = func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		br.Shutdown(ctx)
	}
	return b, nil
}

// countedConn calls closed once, when the broker closes the connection
// (after it handled everything the client sent).
type countedConn struct {
	net.Conn
	once   sync.Once
	closed func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.closed)
	return err
}

// brokerStarter starts a fresh broker; with auth it only accepts diffUsers.
type brokerStarter func(ctx context.Context, e *diffEnv, auth bool) (*diffBroker, error)

// lineHandler writes each log record's message as a line.
type lineHandler struct {
	w io.Writer
	slog.Handler
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	_, err := io.WriteString(h.w, r.Message+"\n")
	return err
}
