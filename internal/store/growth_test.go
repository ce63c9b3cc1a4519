package store

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// TestFileSizeBounded: deleted messages and sessions free their pages and
// bbolt reuses them, so rounds of save+delete do not grow the file.
func TestFileSizeBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 100k saves and deletes")
	}
	s := openStore(t, tempPath(t), Options{NoSync: true})
	load(t, s)
	const rounds, perRound, clients = 10, 10000, 10
	payload := []byte(strings.Repeat("p", 200))
	size := func() int64 {
		fi, err := os.Stat(s.Path())
		mustNil(t, err)
		return fi.Size()
	}
	var sizes []int64
	seq := uint64(0)
	for r := range rounds {
		for c := range clients {
			id := fmt.Sprintf("client-%d", c)
			mustNil(t, s.SaveSession(&broker.StoredSession{ClientID: id, Version: mqtt.V5}))
			mustNil(t, s.SaveSubscription(id, &broker.StoredSubscription{Filter: "a/#", QoS: 1}))
		}
		first := seq + 1
		for i := range perRound {
			seq++
			mustNil(t, s.SaveMessage(fmt.Sprintf("client-%d", i%clients), &broker.StoredMessage{Seq: seq, QoS: 1, Topic: "a/b", Payload: payload}))
		}
		mustSync(t, s)
		for q := first; q <= seq; q++ {
			// Half the clients acknowledge their messages, the other half
			// are removed with their sessions.
			if c := int(q-1) % clients; c < clients/2 {
				mustNil(t, s.DeleteMessage(fmt.Sprintf("client-%d", c), q))
			}
		}
		for c := clients / 2; c < clients; c++ {
			mustNil(t, s.DeleteSession(fmt.Sprintf("client-%d", c)))
		}
		mustSync(t, s)
		sizes = append(sizes, size())
		if r == 0 {
			t.Logf("after round 1: %d bytes for %d messages of %d bytes", sizes[0], perRound, len(payload))
		}
	}
	t.Logf("file sizes per round: %v", sizes)
	if last := sizes[rounds-1]; last > 2*sizes[0] {
		t.Errorf("file grew from %d to %d bytes over %d rounds", sizes[0], last, rounds)
	}
	snap := load(t, reopen(t, s))
	for _, ss := range snap.Sessions {
		if len(ss.Messages) != 0 {
			t.Errorf("session %s still has %d messages", ss.ClientID, len(ss.Messages))
		}
	}
}
