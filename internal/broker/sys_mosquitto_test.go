package broker_test

import (
	"context"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/testtool"
)

// sysTopics subscribes to $SYS/# on s for a little more than two
// sys_interval periods and returns how often each topic was received.
func sysTopics(t *testing.T, s *server) map[string]int {
	t.Helper()
	sub := testtool.Require(t, "mosquitto_sub")
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	// -W ends mosquitto_sub after 3 seconds (exit status 27); -F %t prints
	// the topic alone (one topic has a space: "retained messages/count").
	out, err := exec.CommandContext(ctx, sub, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-t", "$SYS/#", "-F", "%t", "-W", "3").Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 27) {
		t.Fatalf("mosquitto_sub on %s: %v", s.name, err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			seen[line]++
		}
	}
	return seen
}

// TestSysTreeAsMosquitto: with sys_interval 1, every $SYS topic mosquitto
// 2.0.11 publishes is published by mqbroker too, under the same name, and
// both update it every second (monitoring scripts written for mosquitto
// work unchanged).
func TestSysTreeAsMosquitto(t *testing.T) {
	testtool.RequireAll(t, "mosquitto", "mosquitto_sub")
	const conf = "listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\n"
	start := time.Now()
	want := sysTopics(t, newServer(t, "mosquitto", conf))
	if len(want) < 40 || want["$SYS/broker/load/messages/received/1min"] == 0 {
		t.Fatalf("mosquitto published only %d $SYS topics: %v", len(want), want)
	}
	got := sysTopics(t, newServer(t, "mqbroker", conf))
	var missing []string
	for topic := range want {
		if got[topic] == 0 {
			missing = append(missing, topic)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("mqbroker does not publish %d of mosquitto's %d $SYS topics: %v", len(missing), len(want), missing)
	}
	// The same interval: the retained value on subscribing, then an
	// update every second.
	for _, topic := range []string{"$SYS/broker/uptime", "$SYS/broker/clients/connected", "$SYS/broker/load/bytes/received/1min"} {
		if got[topic] < 3 {
			t.Errorf("%s received %d times in 3 s from mqbroker with sys_interval 1 (mosquitto: %d), want at least 3",
				topic, got[topic], want[topic])
		}
	}
	t.Logf("%d topics from mosquitto, %d from mqbroker, in %v", len(want), len(got), time.Since(start).Round(time.Millisecond))
}
