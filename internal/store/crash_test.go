package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// The crash test re-executes the test binary as a child that writes to a
// store and prints "durable SEQ" from each AfterDurable callback. The
// parent kills it with SIGKILL mid-stream and checks the file.
const (
	envCrashChild  = "MQKIT_STORE_CRASH_CHILD" // data file path
	envCrashNoSync = "MQKIT_STORE_CRASH_NOSYNC"
	crashClient    = "crash-client"
	crashPayload   = 1024
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envCrashChild); path != "" {
		crashChild(path, os.Getenv(envCrashNoSync) == "1")
		return // not reached: the parent kills us
	}
	os.Exit(m.Run())
}

// crashChild saves messages for ever, reporting each one once durable.
func crashChild(path string, noSync bool) {
	s, err := Open(path, Options{NoSync: noSync})
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	snap, err := s.Load()
	if err != nil {
		fmt.Println("load error:", err)
		os.Exit(2)
	}
	first := uint64(1) // continue after what an earlier child left
	if ss := sessionByID(snap, crashClient); ss != nil && len(ss.Messages) > 0 {
		first = ss.Messages[len(ss.Messages)-1].Seq + 1
	}
	_ = s.SaveSession(&broker.StoredSession{ClientID: crashClient, Version: mqtt.V5, ExpiryInterval: 0xFFFFFFFF})
	payload := []byte(strings.Repeat("x", crashPayload))
	// At most window messages wait for durability, as a broker's inflight
	// window would have it.
	const window = 256
	tokens := make(chan struct{}, window)
	for seq := first; seq < 1e7; seq++ {
		tokens <- struct{}{}
		_ = s.SaveMessage(crashClient, &broker.StoredMessage{Seq: seq, QoS: 1, Topic: "crash", Payload: payload})
		if seq%10 == 0 {
			_ = s.SaveRetained(&broker.StoredMessage{Topic: fmt.Sprintf("crash/%d", seq%70), Payload: payload})
		}
		s.AfterDurable(func(err error) {
			if err == nil {
				fmt.Printf("durable %d\n", seq)
			}
			<-tokens
		})
	}
	os.Exit(3)
}

func TestCrashKeepsDurableMessages(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			testCrash(t, noSync)
		})
	}
}

// testCrash runs rounds children on the same file, killing each after
// killAfter durable reports, then checks the file.
func testCrash(t *testing.T, noSync bool) {
	const rounds, killAfter = 3, 200
	path := tempPath(t)
	var durable []uint64
	for range rounds {
		durable = append(durable, runCrashChild(t, path, noSync, killAfter)...)
	}
	maxDurable := durable[len(durable)-1]

	s := openStore(t, path, Options{})
	snap := load(t, s)
	// Retained messages go to 7 topics (seq%70 for multiples of 10).
	if maxDurable >= 70 && len(snap.Retained) != 7 {
		t.Errorf("%d retained messages, want 7", len(snap.Retained))
	}
	ss := sessionByID(snap, crashClient)
	if ss == nil {
		t.Fatal("session lost")
	}
	present := make(map[uint64]bool, len(ss.Messages))
	for i, m := range ss.Messages {
		// Commits are atomic and in submission order, so what survives is
		// exactly the messages 1..k for some k.
		if m.Seq != uint64(i+1) || len(m.Payload) != crashPayload {
			t.Fatalf("message %d: seq %d, %d bytes: not a prefix of what was saved", i, m.Seq, len(m.Payload))
		}
		present[m.Seq] = true
	}
	for _, seq := range durable {
		if !present[seq] {
			t.Fatalf("message %d was reported durable but is missing (%d present)", seq, len(ss.Messages))
		}
	}
	t.Logf("%d reported durable (last %d) over %d kills; %d messages on disk",
		len(durable), maxDurable, rounds, len(ss.Messages))
}

// runCrashChild starts a child on path, SIGKILLs it after killAfter
// durable reports and returns every seq it reported.
func runCrashChild(t *testing.T, path string, noSync bool, killAfter int) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+path, envCrashNoSync+"="+map[bool]string{true: "1"}[noSync])
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	mustNil(t, err)
	mustNil(t, cmd.Start())
	var durable []uint64
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "durable ")
		if !ok {
			t.Logf("child: %s", line)
			continue
		}
		seq, err := strconv.ParseUint(rest, 10, 64)
		mustNil(t, err)
		durable = append(durable, seq)
		if len(durable) == killAfter && !killed {
			mustNil(t, cmd.Process.Kill()) // SIGKILL, mid-stream
			killed = true
		}
	}
	_ = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("child did not finish in time (%d durable reports)", len(durable))
	}
	if !killed {
		t.Fatalf("child exited after %d durable reports", len(durable))
	}
	return durable
}
