// mkolddb wrote testdata/store-format-1-sessions-v1.db.gz: run it in a
// checkout of mqkit commit 770b3d4 (session records version 1) as
// "go run ./cmd/mkolddb FILE", then gzip -9 FILE. Kept for reference;
// the go tool ignores testdata.
package main

import (
	"log"
	"os"
	"time"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/store"
)

func main() {
	s, err := store.Open(os.Args[1], store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(s.SaveSession(&broker.StoredSession{ClientID: "old-client", Version: mqtt.V311, ExpiryInterval: 0xFFFFFFFF, DisconnectedAt: at}))
	must(s.SaveSubscription("old-client", &broker.StoredSubscription{Filter: "old/#", QoS: 1}))
	must(s.SaveMessage("old-client", &broker.StoredMessage{Seq: 1, QoS: 1, Topic: "old/topic", Payload: []byte("kept"), Publisher: "old-pub"}))
	must(s.SaveSession(&broker.StoredSession{ClientID: "old-v5", Version: mqtt.V5, ExpiryInterval: 86400 * 365 * 10, DisconnectedAt: at}))
	must(s.SaveRetained(&broker.StoredMessage{QoS: 1, Retain: true, Topic: "old/retained", Payload: []byte("r"), Publisher: "old-pub"}))
	must(s.Sync())
	must(s.Close())
}
