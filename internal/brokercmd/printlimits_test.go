package brokercmd

import (
	"strings"
	"testing"
)

// TestPrintConfigShowsLimits: --print-config shows every limit: the
// options with their values (defaults included) and the built-in ones as
// comments; the output still reads back.
func TestPrintConfigShowsLimits(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "in.conf", "listener 0 127.0.0.1\nuse_username_as_clientid true\nmax_topic_length 4096\n")
	code, out, errs := runApp(t, "-c", conf, "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"\ntopic_hierarchy_limit 200\n", "\nmax_topic_length 4096\n", "\n# max_packet_size not set: packets up to the protocol's 268435460 bytes\n",
		"\nmax_keepalive 65535\n", "\nmessage_size_limit 0\n", "\nmax_inflight_messages 20\n", "\nmax_queued_messages 1000\n",
		"\nmax_queued_bytes 0\n", "\nglobal_max_clients -1\n", "\nglobal_max_connections -1\n",
		"\nmax_connections -1\n", "\nmax_qos 2\n", "\nmax_topic_alias 10\n", "\nuse_username_as_clientid true\n",
		"\n# Built in (no option):\n",
		"\n#   receive maximum (QoS 1/2 publishes a v5 client may have unacknowledged): 1024\n",
		"\n#   bytes held for one client before it is closed as a slow consumer: 67108864\n",
		"\n#   a slow consumer is one again at once when its queue fills, until it has kept up for 20s\n",
		"\n#   connect timeout (CONNECT, TLS handshake, WebSocket upgrade, PROXY header): 10s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	back := writeFile(t, dir, "out.conf", out)
	if code, _, errs := runApp(t, "-c", back, "--test-config"); code != 0 {
		t.Fatalf("the printed configuration does not read back: %s", errs)
	}
}
