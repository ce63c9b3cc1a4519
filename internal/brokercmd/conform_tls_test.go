package brokercmd

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// TestTwinTLSChain: certfile holds only the server certificate, cafile
// the intermediate CA and the root; a client that trusts only the root
// (mosquitto_pub --cafile root.crt) must be able to verify the server, so
// the server sends the chain (issue 11 item 11: mqbroker sent the leaf
// alone, "unable to verify the first certificate"). mosquitto 2.0.11
// sends leaf, intermediate and root.
func TestTwinTLSChain(t *testing.T) {
	pub := clienttest.RequireBinary(t, "mosquitto_pub")
	ch := clienttest.NewTLSChain(t)
	conf := "listener {port} 127.0.0.1\nallow_anonymous true\ncertfile " + ch.Leaf + "\nkeyfile " + ch.Key +
		"\ncafile " + ch.CAFile + "\n"
	twin(t, conf, func(t *testing.T, b *twinBroker) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", strconv.Itoa(b.ports[0]),
			"--cafile", ch.Root, "-t", "chain", "-m", "x", "-q", "1").CombinedOutput()
		if err != nil {
			t.Errorf("mosquitto_pub --cafile root: %v\n%s", err, out)
		}
	})
}
