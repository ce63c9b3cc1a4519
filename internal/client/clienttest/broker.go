package clienttest

import (
	"context"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
)

// StartBroker runs our broker in-process. With no listeners in opts it
// listens for plain MQTT on 127.0.0.1:0 (listener "tcp"). It is shut down
// when the test ends.
func StartBroker(t testing.TB, opts broker.Options) *broker.Broker {
	t.Helper()
	if len(opts.Listeners) == 0 {
		opts.Listeners = []broker.ListenerConfig{{Name: "tcp", Addr: "127.0.0.1:0"}}
	}
	b, err := broker.New(opts)
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("broker.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Logf("broker shutdown: %v", err)
		}
	})
	return b
}
