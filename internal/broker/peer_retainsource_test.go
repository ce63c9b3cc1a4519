package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// TestPeerCheckRetainSourceAfterRestart: check_retain_source (default
// true) sends a retained message to a new subscriber only while its
// publisher may still publish to its topic (mosquitto.conf(5)). The
// publisher's identity is kept with the retained message across a restart
// with persistence (mosquitto saves source_id and source_username in
// mosquitto.db): alice retains crs/r; the broker is stopped, alice loses
// write access in the ACL file, the broker starts again; bob, who may
// read crs/#, subscribes. With check_retain_source true he must not get
// it, with false he must. Then a marker bob publishes himself says that
// everything before it has been delivered.
func TestPeerCheckRetainSourceAfterRestart(t *testing.T) {
	for _, check := range []bool{true, false} {
		t.Run(fmt.Sprintf("check=%v", check), func(t *testing.T) {
			dir := t.TempDir()
			pw := clienttest.WritePasswordFile(t, dir, map[string]string{"alice": "alicepw", "bob": "bobpw"})
			acl := filepath.Join(dir, "acl")
			const bob = "user bob\ntopic read crs/#\ntopic write crs/marker\n"
			conf := "listener {port} 127.0.0.1\nallow_anonymous false\nsys_interval 0\npassword_file " + pw +
				"\nacl_file " + acl + "\npersistence true\npersistence_location {dir}/\n" +
				fmt.Sprintf("check_retain_source %v\n", check)
			const before = "user alice\ntopic readwrite crs/#\n" + bob
			write := func(text string) {
				if err := os.WriteFile(acl, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(before)
			eachServer(t, conf, func(t *testing.T, s *server) {
				t.Cleanup(func() { write(before) }) // for the next broker
				a := v3connectAs(t, s, "crs-alice", "alice", "alicepw")
				a.pub(t, "crs/r", 1, true, "kept")
				a.c.Disconnect(250)

				write("user alice\ntopic read crs/#\n" + bob) // alice loses write access
				s.restart(t, false)

				b := v3connectAs(t, s, "crs-bob", "bob", "bobpw")
				b.sub(t, "crs/#", 1)
				b.pub(t, "crs/marker", 1, false, "marker")
				first := b.recv(t)
				got := first.Topic() == "crs/r"
				if got == check {
					t.Errorf("check_retain_source %v after a restart: new subscriber got the retained message: %v, want %v",
						check, got, !check)
				}
				if got {
					b.expect(t, "crs/marker", "marker")
				}
			})
		})
	}
}
