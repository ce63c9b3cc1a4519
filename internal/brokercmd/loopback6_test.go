package brokercmd

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startBanner runs mqbroker with args until the test ends and returns its
// banner once printed.
func startBanner(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewApp(&out, &errb).RunContext(ctx, append([]string{"mqbroker"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := errb.String(); strings.Contains(s, "Try it") || strings.Contains(s, "Nobody can log in") {
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("mqbroker exited: %v\n%s", err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no banner:\n%s", errb.String())
	return ""
}

// TestLocalOnlyIPv6: like mosquitto's local-only mode, which listens on
// localhost, mqbroker with no listener configured (or -p PORT) also
// listens on [::1], same port; --listen opens exactly what it says.
func TestLocalOnlyIPv6(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	probe.Close()
	banner := startBanner(t, "-p", "0")
	m := regexp.MustCompile(`listening on mqtt://127\.0\.0\.1:(\d+) +\(local only, also on \[::1\]:(\d+);`).FindStringSubmatch(banner)
	if m == nil || m[1] != m[2] {
		t.Fatalf("banner does not name [::1] with the same port:\n%s", banner)
	}
	roundTrip(t, "[::1]:"+m[1])
	roundTrip(t, "127.0.0.1:"+m[1])

	banner = startBanner(t, "--listen", "mqtt://127.0.0.1:0")
	if strings.Contains(banner, "::1") {
		t.Errorf("--listen 127.0.0.1 also opened [::1]:\n%s", banner)
	}
}

// TestBannerTryIt: the banner's mqsub/mqpub pair has what the listener
// needs, and there is none when nobody can log in (a --print-config file
// written with --user: the passwords are not in it).
func TestBannerTryIt(t *testing.T) {
	banner := startBanner(t, "--listen", "mqtt://127.0.0.1:0", "--user", "alice:s3cret")
	if !regexp.MustCompile(`mqsub -h 127\.0\.0\.1 -p \d+ -u alice -t`).MatchString(banner) {
		t.Errorf("no -u alice:\n%s", banner)
	}
	dir := t.TempDir()
	conf := writeFile(t, dir, "my.conf", "listener 0 127.0.0.1\nallow_anonymous false\n")
	banner = startBanner(t, "-c", conf)
	if strings.Contains(banner, "Try it") || !strings.Contains(banner, "Nobody can log in yet: add --user NAME:PASSWORD") {
		t.Errorf("banner for a configuration nobody can log in to:\n%s", banner)
	}
	pw := writeFile(t, dir, "pw", "")
	conf = writeFile(t, dir, "pw.conf", "listener 0 127.0.0.1\npassword_file "+pw+"\n")
	banner = startBanner(t, "-c", conf)
	if !strings.Contains(banner, "-u USER -P PASSWORD -t") {
		t.Errorf("banner for a password file:\n%s", banner)
	}
}
