package clicmd

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

func TestQoSMatrix(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		for _, v := range []string{"31", "311", "5"} {
			for _, q := range []string{"0", "1", "2"} {
				t.Run("V"+v+"/q"+q, func(t *testing.T) {
					topic := "qos/" + v + "/" + q
					wait := bgSub(t, tg.args("-V", v, "-t", topic, "-q", "2", "-C", "1", "-F", "%t %p %q %r")...)
					mustPub(t, tg.args("-V", v, "-t", topic, "-m", "hello world", "-q", q)...)
					r := wait()
					if want := topic + " hello world " + q + " 0\n"; r.code != 0 || messages(r.stdout) != want {
						t.Errorf("exit %d, output %q, want %q\nstderr: %s", r.code, messages(r.stdout), want, r.stderr)
					}
				})
			}
		}
	})
}

func TestDurableSession(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		for _, v := range []string{"311", "5"} {
			t.Run("V"+v, func(t *testing.T) {
				id := "durable-" + v
				topic := "orders/" + v
				if r := sub(t, tg.args("-V", v, "-c", "-i", id, "-q", "1", "-t", topic+"/#", "-E")...); r.code != 0 {
					t.Fatalf("mqsub -c -E: exit %d: %s", r.code, r.stderr)
				}
				for i := 1; i <= 3; i++ {
					mustPub(t, tg.args("-V", v, "-t", fmt.Sprintf("%s/%d", topic, i), "-m", fmt.Sprint("order ", i), "-q", "1")...)
				}
				r := sub(t, tg.args("-V", v, "-c", "-i", id, "-q", "1", "-t", topic+"/#", "-C", "3", "-W", "5", "-v")...)
				want := fmt.Sprintf("%[1]s/1 order 1\n%[1]s/2 order 2\n%[1]s/3 order 3\n", topic)
				if r.code != 0 || r.stdout != want {
					t.Errorf("exit %d, output %q, want %q\nstderr: %s", r.code, r.stdout, want, r.stderr)
				}
				// -U removes the subscription from the durable session.
				if r := sub(t, tg.args("-V", v, "-c", "-i", id, "-U", topic+"/#", "-E")...); r.code != 0 {
					t.Fatalf("mqsub -U -E: exit %d: %s", r.code, r.stderr)
				}
				mustPub(t, tg.args("-V", v, "-t", topic+"/4", "-m", "lost", "-q", "1")...)
				r = sub(t, tg.args("-V", v, "-c", "-i", id, "-q", "1", "-t", "unrelated", "-W", "0.3")...)
				if r.code != 27 || r.stdout != "" {
					t.Errorf("after -U: exit %d, output %q; want 27 and nothing", r.code, r.stdout)
				}
			})
		}
	})
}

func TestRetained(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		mustPub(t, tg.args("-t", "ret/a", "-m", "first", "-r", "-q", "1")...)
		mustPub(t, tg.args("-t", "ret/a", "-m", "kept", "-r", "-q", "1")...)
		r := sub(t, tg.args("-t", "ret/#", "-C", "1", "-F", "%t %p %r")...)
		if r.code != 0 || r.stdout != "ret/a kept 1\n" {
			t.Fatalf("retained: exit %d output %q stderr %s", r.code, r.stdout, r.stderr)
		}
		// -R skips stale messages: nothing to print before -W.
		if r := sub(t, tg.args("-t", "ret/#", "-R", "-W", "0.3")...); r.code != 27 || r.stdout != "" || !strings.Contains(r.stderr, "Timed out") {
			t.Errorf("-R: exit %d output %q stderr %q", r.code, r.stdout, r.stderr)
		}
		// -n -r clears it.
		mustPub(t, tg.args("-t", "ret/a", "-n", "-r", "-q", "1")...)
		if r := sub(t, tg.args("-t", "ret/#", "-W", "0.3")...); r.code != 27 || r.stdout != "" {
			t.Errorf("after -n -r: exit %d output %q", r.code, r.stdout)
		}
		// --remove-retained with --retained-only wipes what is visible.
		mustPub(t, tg.args("-t", "ret/x", "-m", "1", "-r", "-q", "1")...)
		mustPub(t, tg.args("-t", "ret/y", "-m", "2", "-r", "-q", "1")...)
		r = sub(t, tg.args("-t", "ret/#", "--retained-only", "--remove-retained", "-W", "5", "-v")...)
		if r.code != 0 || sortedLines(r.stdout) != "ret/x 1\nret/y 2\n" {
			t.Errorf("--retained-only --remove-retained: exit %d output %q stderr %s", r.code, r.stdout, r.stderr)
		}
		if r := sub(t, tg.args("-t", "ret/#", "-W", "0.3")...); r.code != 27 || r.stdout != "" {
			t.Errorf("after --remove-retained: exit %d output %q", r.code, r.stdout)
		}
	})
}

func TestWillCLI(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		// --disconnect-reason 4: the broker publishes the will.
		wait := bgSub(t, tg.args("-t", "will/a", "-C", "1", "-v")...)
		mustPub(t, tg.args("-V", "5", "-i", "dying", "--will-topic", "will/a", "--will-payload", "gone",
			"--disconnect-reason", "4", "-t", "other", "-m", "x")...)
		if r := wait(); r.code != 0 || messages(r.stdout) != "will/a gone\n" {
			t.Errorf("will with reason 4: exit %d output %q", r.code, messages(r.stdout))
		}
		// A normal DISCONNECT discards the will: the marker comes first.
		wait = bgSub(t, tg.args("-t", "will/b", "-C", "1", "-v")...)
		mustPub(t, tg.args("-V", "5", "--will-topic", "will/b", "--will-payload", "gone", "-t", "other", "-m", "x")...)
		mustPub(t, tg.args("-t", "will/b", "-m", "marker")...)
		if r := wait(); r.code != 0 || messages(r.stdout) != "will/b marker\n" {
			t.Errorf("normal disconnect: exit %d output %q", r.code, messages(r.stdout))
		}
	})
}

func TestPublishModes(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		wait := bgSub(t, tg.args("-t", "modes/#", "-C", "7", "-q", "1", "-F", "%t|%p|%l")...)
		stdin := "line one\n\nline three"
		if r := (&tool{name: "mqpub", stdin: stdin}).run(testCtx(t), tg.args("-t", "modes/l", "-l", "-q", "1")...); r.code != 0 {
			t.Fatalf("-l: exit %d %s", r.code, r.stderr)
		}
		if r := (&tool{name: "mqpub", stdin: "all\nof it"}).run(testCtx(t), tg.args("-t", "modes/s", "-s", "-q", "2")...); r.code != 0 {
			t.Fatalf("-s: exit %d %s", r.code, r.stderr)
		}
		mustPub(t, tg.args("-t", "modes/r", "-m", "again", "--repeat", "2", "--repeat-delay", "0.01", "-q", "1")...)
		mustPub(t, tg.args("-t", "modes/n", "-n")...)
		r := wait()
		want := "modes/l|line one|8\nmodes/l||0\nmodes/l|line three|10\nmodes/s|all\nof it|9\nmodes/r|again|5\nmodes/r|again|5\nmodes/n||0\n"
		if r.code != 0 || messages(r.stdout) != want {
			t.Errorf("exit %d output %q, want %q", r.code, messages(r.stdout), want)
		}
	})
}

func TestTimeoutExit27(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		r := sub(t, tg.args("-t", "nothing/here", "-W", "0.2")...)
		if r.code != 27 || r.stderr != "Timed out\n" {
			t.Errorf("exit %d stderr %q, want 27 and \"Timed out\"", r.code, r.stderr)
		}
		if r := sub(t, tg.args("-t", "nothing/here", "-W", "0.2", "--quiet")...); r.code != 27 || r.stderr != "" {
			t.Errorf("--quiet: exit %d stderr %q", r.code, r.stderr)
		}
	})
}

func TestConnectionRefusedExit1(t *testing.T) {
	r := pub(t, "-h", "127.0.0.1", "-p", "1", "-t", "a", "-m", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "Hint: nothing is listening") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestTrace(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		r := pub(t, tg.args("-i", "tracer", "-t", "tr/a", "-m", "hello", "-q", "1", "--dump")...)
		for _, want := range []string{
			"Client tracer sending CONNECT",
			"Client tracer received CONNACK (0)",
			"Client tracer sending PUBLISH (d0, q1, r0, m1, 'tr/a', ... (5 bytes))",
			"Client tracer received PUBACK",
			"Client tracer sending DISCONNECT",
			"    0000  e0 00 ",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("trace lacks %q:\n%s", want, r.stdout)
			}
		}
	})
}

func TestJSONOutput(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		mustPub(t, tg.args("-t", "js/1", "-m", `{"temp":21.5}`, "-r", "-q", "1")...)
		mustPub(t, tg.args("-t", "js/2", "-m", "text", "-r", "-q", "1")...)
		r := sub(t, tg.args("-t", "js/#", "-C", "2", "--json")...)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		// Retained messages come in no specified order.
		for i := range lines {
			lines[i] = tstField.ReplaceAllString(lines[i], "")
		}
		sort.Strings(lines)
		if r.code != 0 || len(lines) != 2 ||
			!strings.Contains(lines[0], `"topic":"js/1","qos":0,"retain":1,"payloadlen":13,"payload":{"temp":21.5}}`) ||
			!strings.Contains(lines[1], `"payload":"text"}`) {
			t.Errorf("exit %d output:\n%s", r.code, r.stdout)
		}
	})
}

// The seed tutorials' durable-session commands, written for
// mosquitto_sub 2.0 ("-c -i ID -q 1 -t TOPIC -V 311 -x 600"), run
// unchanged with mqsub (issue 13): -x is ignored on MQTT 3.1.1, as
// mosquitto 2.0 ignores it, with a warning; the session is kept by -c.
// Before, mqsub refused the command line ("-x needs MQTT 5").
func TestTutorialDurableSessionCommands(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tg target) {
		for _, flags := range [][]string{{"-V", "311", "-x", "600"}, {"-x", "600", "-V", "311"}, {"-V", "5", "-x", "600"}} {
			t.Run(strings.Join(flags, " "), func(t *testing.T) {
				id := "tutorial-" + strings.Join(flags, "")
				topic := "tutorial/" + id
				create := append([]string{"-c", "-i", id, "-q", "1", "-t", topic, "-E"}, flags...)
				r := sub(t, tg.args(create...)...)
				if r.code != 0 || r.stdout != "" {
					t.Fatalf("mqsub %q: exit %d stdout %q stderr %q", create, r.code, r.stdout, r.stderr)
				}
				if v311 := flags[1] == "311" || flags[3] == "311"; v311 != strings.Contains(r.stderr, "Warning: -x ignored") {
					t.Errorf("stderr %q: want the -x warning exactly on MQTT 3.1.1", r.stderr)
				}
				for i := 1; i <= 3; i++ {
					mustPub(t, tg.args("-t", topic, "-m", fmt.Sprint("order ", i), "-q", "1")...)
				}
				resume := append([]string{"-c", "-i", id, "-q", "1", "-t", topic, "-C", "3", "-W", "5"}, flags...)
				r = sub(t, tg.args(resume...)...)
				if r.code != 0 || r.stdout != "order 1\norder 2\norder 3\n" {
					t.Errorf("mqsub %q: exit %d stdout %q stderr %q", resume, r.code, r.stdout, r.stderr)
				}
			})
		}
	})
}
