package clicmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client/clienttest"
)

// runMosquittoSub runs the real mosquitto_sub and returns its stdout.
func runMosquittoSub(t *testing.T, args ...string) string {
	t.Helper()
	bin := clienttest.RequireBinary(t, "mosquitto_sub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mosquitto_sub %q: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// tstField is the %j timestamp, which differs between any two runs.
var tstField = regexp.MustCompile(`"tst":"[^"]*",`)

// Same messages through mosquitto_sub and mqsub must print the same bytes
// where both define the output (-v, -F, %j keys). Like libmosquitto,
// mqsub prints a QoS 2 message at PUBREL, so a mixed QoS 1/2 stream
// prints in the same order (issue 13), and %j lists the v5 properties in
// the order they came.
func TestGoldenAgainstMosquittoSub(t *testing.T) {
	m := clienttest.StartMosquitto(t, clienttest.AnonymousConf)
	tg := splitAddr(t, m.Addr())
	bin := filepath.Join(t.TempDir(), "binary")
	if err := os.WriteFile(bin, []byte{0, 1, 0xfe, 0xff, 'x'}, 0o600); err != nil {
		t.Fatal(err)
	}
	formats := [][]string{
		{"-v"},
		{"-F", "%t %p %q %r"},
		{"-F", `%t|%p|%q|%r|%l|%x|%X|%m|%08l|%-6q|%%\t@@`},
		{"-F", "%j"},
		{"-v", "-N"},
		{},
	}
	id := func(who string, i int) string { return who + "-gold-" + string(rune('a'+i)) }
	// Durable sessions for both subscribers, so the messages wait for them.
	for i := range formats {
		runMosquittoSub(t, tg.args("-V", "5", "-c", "-i", id("mosq", i), "-q", "2", "-t", "g/#", "-E")...)
		if r := sub(t, tg.args("-V", "5", "-c", "-i", id("mq", i), "-q", "2", "-t", "g/#", "-E")...); r.code != 0 {
			t.Fatalf("mqsub -E: %s", r.stderr)
		}
	}
	mustPub(t, tg.args("-t", "g/retained", "-m", "kept", "-r", "-q", "1")...)
	mustPub(t, tg.args("-t", "g/a", "-m", "hello", "-q", "1")...)
	mustPub(t, tg.args("-t", "g/b", "-m", "with  two spaces", "-q", "1")...)
	mustPub(t, tg.args("-t", "g/c", "-n", "-q", "1")...)
	mustPub(t, tg.args("-t", "g/d", "-m", "ünïcödé ✓", "-q", "1")...)
	mustPub(t, tg.args("-t", "g/e", "-f", bin, "-q", "1")...)
	mustPub(t, tg.args("-V", "5", "-t", "g/f", "-m", `{"json":[1,2]}`, "-q", "1",
		"-D", "publish", "content-type", "c", "-D", "publish", "user-property", "k", "v",
		"-D", "publish", "payload-format-indicator", "1")...)
	// 7 queued messages, then the retained one again on SUBSCRIBE.
	const count = "8"
	for i, f := range formats {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			common := []string{"-V", "5", "-c", "-q", "2", "-t", "g/#", "-C", count}
			want := runMosquittoSub(t, tg.args(append(append(common, "-i", id("mosq", i)), f...)...)...)
			r := sub(t, tg.args(append(append(common, "-i", id("mq", i), "-W", "5"), f...)...)...)
			got := r.stdout
			if len(f) > 1 && f[1] == "%j" {
				want, got = tstField.ReplaceAllString(want, ""), tstField.ReplaceAllString(got, "")
			}
			if r.code != 0 || got != want {
				t.Errorf("format %q: exit %d\nmqsub:\n%q\nmosquitto_sub:\n%q\nstderr: %s", f, r.code, got, want, r.stderr)
			}
		})
	}
	t.Run("qos2", func(t *testing.T) {
		for _, who := range []string{"mosq", "mq"} {
			args := tg.args("-c", "-i", who+"-gold-q2", "-q", "2", "-t", "h/#", "-E")
			if who == "mosq" {
				runMosquittoSub(t, args...)
			} else if r := sub(t, args...); r.code != 0 {
				t.Fatal(r.stderr)
			}
		}
		mustPub(t, tg.args("-t", "h/1", "-m", "one", "-q", "2")...)
		mustPub(t, tg.args("-t", "h/2", "-m", "two", "-q", "1")...)
		mustPub(t, tg.args("-t", "h/3", "-m", "three", "-q", "2")...)
		mustPub(t, tg.args("-t", "h/4", "-m", "four", "-q", "0")...)
		args := func(who string) []string {
			return tg.args("-c", "-i", who+"-gold-q2", "-q", "2", "-t", "h/#", "-C", "3", "-F", "%t %p %q %r %m")
		}
		want := runMosquittoSub(t, args("mosq")...)
		if r := sub(t, args("mq")...); r.code != 0 || r.stdout != want {
			t.Errorf("exit %d\nmqsub:\n%q\nmosquitto_sub:\n%q", r.code, r.stdout, want)
		}
	})
}
