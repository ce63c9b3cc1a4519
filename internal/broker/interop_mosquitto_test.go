package broker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/testtool"
)

// Interop with the real mosquitto_pub / mosquitto_sub (Debian
// mosquitto-clients), driven against the in-process broker.

// needMosquitto skips when the clients are missing, except in CI.
func needMosquitto(t *testing.T) {
	t.Helper()
	testtool.RequireAll(t, "mosquitto_pub", "mosquitto_sub")
}

// mosq runs a mosquitto client against addr with a deadline and returns
// its stdout.
func mosq(t *testing.T, addr string, bin string, args ...string) string {
	t.Helper()
	cmd, out := startMosq(t, addr, bin, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return out.String()
}

func startMosq(t *testing.T, addr string, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-h", host, "-p", port}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func TestInteropMosquittoClients(t *testing.T) {
	needMosquitto(t)
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Verbose: true, Logger: logs.logger()})
	for _, v := range []string{"mqttv31", "mqttv311", "mqttv5"} {
		for qos := 0; qos <= 2; qos++ {
			name := fmt.Sprintf("%s-q%d", v, qos)
			t.Run(name, func(t *testing.T) {
				topic := "mosq/" + name
				sub, out := startMosq(t, addr, "mosquitto_sub", "-V", v, "-i", "sub-"+name, "-t", topic,
					"-q", fmt.Sprint(qos), "-C", "2", "-v")
				logs.waitLine(t, "Sending SUBACK to sub-"+name)
				mosq(t, addr, "mosquitto_pub", "-V", v, "-i", "pub-"+name, "-t", topic, "-q", fmt.Sprint(qos), "-m", "one")
				mosq(t, addr, "mosquitto_pub", "-V", v, "-i", "pub-"+name, "-t", topic, "-q", fmt.Sprint(qos), "-m", "two")
				if err := sub.Wait(); err != nil {
					t.Fatalf("mosquitto_sub: %v\n%s", err, out)
				}
				if got, want := out.String(), topic+" one\n"+topic+" two\n"; got != want {
					t.Errorf("mosquitto_sub printed %q, want %q", got, want)
				}
			})
		}
	}
}

func TestInteropMosquittoRetainAndV5Properties(t *testing.T) {
	needMosquitto(t)
	_, addr := newTestBroker(t, Options{})
	mosq(t, addr, "mosquitto_pub", "-t", "mosq/ret", "-r", "-q", "1", "-m", "kept")
	if got := mosq(t, addr, "mosquitto_sub", "-t", "mosq/ret", "-C", "1", "-F", "%t %r %p"); got != "mosq/ret 1 kept\n" {
		t.Errorf("retained: %q", got)
	}
	mosq(t, addr, "mosquitto_pub", "-t", "mosq/ret", "-r", "-n")
	// -W 1 times out (exit 27) when nothing is retained any more.
	cmd, out := startMosq(t, addr, "mosquitto_sub", "-t", "mosq/#", "-W", "1", "--retained-only")
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 27 || strings.Contains(out.String(), "kept") {
		t.Errorf("retained message not cleared: %v %q", err, out)
	}
	// v5 properties through mosquitto clients.
	c := connectClient(t, addr, mqtt.V5, "mosq-v5-watch")
	c.subscribe("mosq/v5", 1)
	mosq(t, addr, "mosquitto_pub", "-V", "5", "-t", "mosq/v5", "-q", "1", "-m", "{}",
		"-D", "publish", "content-type", "application/json", "-D", "publish", "user-property", "k", "v",
		"-D", "publish", "message-expiry-interval", "60")
	p := c.expectPublish("mosq/v5", "{}")
	if p.Props.ContentType != "application/json" || len(p.Props.User) != 1 || p.Props.User[0].Value != "v" ||
		!p.Props.Has(mqtt.PropMessageExpiry) || p.Props.MessageExpiry > 60 {
		t.Errorf("properties: %s", mqtt.Describe(p))
	}
}

func TestInteropMosquittoDurableSession(t *testing.T) {
	needMosquitto(t)
	_, addr := newTestBroker(t, Options{})
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			id := "mosq-dur-" + v
			topic := "mosq/dur/" + v
			// -E: exit once subscribed; -c keeps the session.
			mosq(t, addr, "mosquitto_sub", "-V", v, "-c", "-i", id, "-q", "1", "-t", topic, "-E")
			for i := 0; i < 3; i++ {
				mosq(t, addr, "mosquitto_pub", "-V", v, "-q", "1", "-t", topic, "-m", fmt.Sprint("m", i))
			}
			got := mosq(t, addr, "mosquitto_sub", "-V", v, "-c", "-i", id, "-q", "1", "-t", topic, "-C", "3")
			if got != "m0\nm1\nm2\n" {
				t.Errorf("durable session delivered %q", got)
			}
		})
	}
}

func TestInteropMosquittoWill(t *testing.T) {
	needMosquitto(t)
	logs := newLogCapture()
	_, addr := newTestBroker(t, Options{Verbose: true, Logger: logs.logger()})
	watch := connectClient(t, addr, mqtt.V311, "mosq-will-watch")
	watch.subscribe("mosq/will", 1)
	cmd, _ := startMosq(t, addr, "mosquitto_sub", "-i", "mosq-will", "-t", "mosq/none",
		"--will-topic", "mosq/will", "--will-payload", "gone", "--will-qos", "1")
	logs.waitLine(t, "Sending SUBACK to mosq-will")
	cmd.Process.Kill() // abrupt close: the will fires
	cmd.Wait()
	logs.wait(t, "Client mosq-will closed its connection.")
	watch.expectPublish("mosq/will", "gone")

	// A normal disconnect (-C 1 after one message) does not fire it.
	cmd, _ = startMosq(t, addr, "mosquitto_sub", "-i", "mosq-will2", "-t", "mosq/one", "-C", "1",
		"--will-topic", "mosq/will", "--will-payload", "gone2")
	logs.waitLine(t, "Sending SUBACK to mosq-will2")
	watch.publish("mosq/one", "x", 0, false)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "Client mosq-will2 disconnected.")
	watch.expectNothing()
}
