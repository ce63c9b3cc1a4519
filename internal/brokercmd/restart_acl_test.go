package brokercmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// startChildLogged is startChild with the child's output kept.
func startChildLogged(t *testing.T, args string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQBROKER_CHILD=1", "MQBROKER_ARGS="+args)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mqbroker log:\n%s", logs.String())
		}
	})
	return cmd, &logs
}

// TestRestartKeepsSessionClient (issue 12 item 3), with real broker
// processes killed (SIGKILL) and restarted on the same data: a durable
// session restored from the store is authorized by the ACL as the user
// who owns it, so a QoS 1 message published after the restart, before
// that user reconnects, is delivered (it was acknowledged, and used to be
// dropped by the ACL check of the restored session). When the ACL no
// longer lets the user read a queued message after a restart, the message
// is not delivered but counted and logged as dropped, with the reason.
func TestRestartKeepsSessionClient(t *testing.T) {
	if testing.Short() {
		t.Skip("process restart test skipped in -short mode")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	for i, u := range []string{"bob", "pub"} {
		args := []string{"passwd", "-b", pw, u, u + "pw"}
		if i == 0 {
			args = []string{"passwd", "-c", "-b", pw, u, u + "pw"}
		}
		if code, _, errs := runApp(t, args...); code != 0 {
			t.Fatal(errs)
		}
	}
	acl := writeFile(t, dir, "acl", "user bob\ntopic readwrite secret/#\nuser pub\ntopic write #\n")
	port := strconv.Itoa(clienttest.FreePort(t))
	addr := "127.0.0.1:" + port
	conf := writeFile(t, dir, "mqbroker.conf", "listener "+port+" 127.0.0.1\nallow_anonymous false\n"+
		"password_file "+pw+"\nacl_file "+acl+"\nlog_type all\n")
	args := "-c " + conf + " --data " + filepath.Join(dir, "data")
	d := tcpDialer("tcp", addr, nil)
	login := func(id, user string, clean bool) *conn {
		c := rawDial(t, d, mqtt.V311)
		ack := c.connectWith(&mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: clean, KeepAlive: 30,
			HasUsername: true, Username: user, HasPassword: true, Password: []byte(user + "pw")})
		if ack == nil || ack.Code != mqtt.Success {
			t.Fatalf("%s refused: %v", user, ack)
		}
		return c
	}
	publish := func(topic string) {
		pub := login("pubber", "pub", true)
		pub.send(&mqtt.Publish{Topic: topic, Payload: []byte("m"), QoS: 1, PacketID: 1})
		if a := pub.read(mqtt.PUBACK).(*mqtt.Ack); a.Code != mqtt.Success {
			t.Fatalf("PUBACK %v", a.Code)
		}
		pub.send(&mqtt.Disconnect{})
	}
	bye := func(c *conn) {
		c.send(&mqtt.Disconnect{})
		c.describe(10 * time.Second) // until the broker closes it
	}
	restart := func(cmd *exec.Cmd) (*exec.Cmd, *syncBuffer) {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		cmd, logs := startChildLogged(t, args)
		waitPort(t, addr)
		return cmd, logs
	}

	cmd, _ := startChildLogged(t, args)
	waitPort(t, addr)
	bob := login("victim", "bob", false)
	bob.send(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "secret/#", QoS: 1}}})
	bob.read(mqtt.SUBACK)
	bye(bob)
	publish("secret/before")

	cmd, _ = restart(cmd)
	publish("secret/after") // for the restored, offline session
	bob = login("victim", "bob", false)
	if got := bob.syncRead(); got != "secret/before=m secret/after=m" {
		t.Fatalf("after the restart bob got %q, want both messages", got)
	}
	bye(bob)

	// bob loses read access while a message waits for him.
	publish("secret/queued")
	if err := os.WriteFile(acl, []byte("user bob\ntopic readwrite other/#\nuser pub\ntopic write #\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, logs := restart(cmd)
	bob = login("victim", "bob", false)
	if got := bob.syncRead(); got != "" {
		t.Fatalf("bob got %q, which his ACL no longer allows", got)
	}
	waitLog(t, logs, "Dropped message for client victim on 'secret/queued': not authorised to read it.")
}
