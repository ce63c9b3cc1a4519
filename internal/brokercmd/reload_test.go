package brokercmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/client/clienttest"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// startFromConfig runs mqbroker in process with conf and returns its
// first listener's port (from the banner) and a stop function.
func startFromConfig(t *testing.T, conf string) (port string) {
	t.Helper()
	var out, errb syncBuffer
	app := NewApp(&out, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, []string{"mqbroker", "-c", conf}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("broker did not stop")
		}
	})
	re := regexp.MustCompile(`listening on \w+://127\.0\.0\.1:(\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("broker exited: %v\n%s", err, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no banner:\n%s", errb.String())
	return ""
}

func connectCode(t *testing.T, opts client.Options) mqtt.ReasonCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, opts)
	if err == nil {
		c.Disconnect(ctx, nil)
		return mqtt.Success
	}
	var ce *client.ConnackError
	if errors.As(err, &ce) {
		return ce.Code
	}
	t.Fatalf("connect: %v", err)
	return 0
}

// TestSIGHUPReloadsPasswords: a user added to the password file can log
// in only after SIGHUP; a broken file keeps the previous one in force.
func TestSIGHUPReloadsPasswords(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if code, _, errs := runApp(t, "passwd", "-c", "-b", pw, "alice", "one"); code != 0 {
		t.Fatal(errs)
	}
	conf := writeFile(t, dir, "c.conf", "listener 0 127.0.0.1\nallow_anonymous false\npassword_file "+pw+"\n")
	port := startFromConfig(t, conf)
	login := func(user, pass string) mqtt.ReasonCode {
		return connectCode(t, client.Options{
			Endpoint: client.Endpoint{Host: "127.0.0.1", Port: atoi(t, port)},
			Connect: mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 30,
				HasUsername: true, Username: user, HasPassword: true, Password: []byte(pass)},
		})
	}
	if c := login("alice", "one"); c != mqtt.Success {
		t.Fatalf("alice: %v", c)
	}
	if code, _, errs := runApp(t, "passwd", "-b", pw, "bob", "two"); code != 0 {
		t.Fatal(errs)
	}
	if c := login("bob", "two"); c != mqtt.BadUserNameOrPassword {
		t.Fatalf("bob before SIGHUP: %v, want 0x86", c)
	}
	hup := func() {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hup()
	deadline := time.Now().Add(10 * time.Second)
	for login("bob", "two") != mqtt.Success {
		if time.Now().After(deadline) {
			t.Fatal("bob still refused after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond) // polling the reload, bounded by the deadline
	}
	// A broken file is refused by the reload; the old users keep working.
	if err := os.WriteFile(pw, []byte("garbage line without colon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	if c := login("bob", "two"); c != mqtt.Success {
		t.Fatalf("after a broken reload bob got %v; the previous file must stay in force", c)
	}
}

// TestClientCertificateIdentity: require_certificate with
// use_identity_as_username makes the certificate's CN the user name that
// the ACL sees; a client without a certificate cannot connect.
func TestClientCertificateIdentity(t *testing.T) {
	files := clienttest.NewTLSFiles(t)
	dir := t.TempDir()
	acl := writeFile(t, dir, "acl", "user mqkit-client\ntopic readwrite ok/#\n")
	conf := writeFile(t, dir, "tls.conf", "listener 0 127.0.0.1\n"+
		"certfile "+files.ServerCert+"\nkeyfile "+files.ServerKey+"\ncafile "+files.CACert+"\n"+
		"require_certificate true\nuse_identity_as_username true\nacl_file "+acl+"\n")
	port := startFromConfig(t, conf)
	tlsWith := func(cert bool) client.Endpoint {
		o := client.TLSOptions{CAFile: files.CACert}
		if cert {
			o.CertFile, o.KeyFile = files.ClientCert, files.ClientKey
		}
		cfg, err := o.Config()
		if err != nil {
			t.Fatal(err)
		}
		return client.Endpoint{Scheme: "mqtts", Host: "127.0.0.1", Port: atoi(t, port), TLS: cfg}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Options{Endpoint: tlsWith(true),
		Connect: mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 30}})
	if err != nil {
		t.Fatalf("with certificate: %v", err)
	}
	defer c.Close()
	for _, tc := range []struct {
		topic string
		want  mqtt.ReasonCode
	}{{"ok/a", mqtt.NoMatchingSubscribers}, {"other/a", mqtt.NotAuthorized}} {
		tok, err := c.Publish(ctx, &mqtt.Publish{Topic: tc.topic, Payload: []byte("x"), QoS: 1})
		if err != nil {
			t.Fatal(err)
		}
		tok.Wait(ctx)
		ack, _ := tok.Result().(*mqtt.Ack)
		if ack == nil || ack.Code != tc.want {
			t.Errorf("publish %s: got %v (err %v), want %v", tc.topic, tok.Result(), tok.Err(), tc.want)
		}
	}
	if _, err := client.Connect(ctx, client.Options{Endpoint: tlsWith(false),
		Connect: mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 30}}); err == nil {
		t.Fatal("a client without a certificate connected")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
