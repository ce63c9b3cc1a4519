package brokercmd

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const mountConf = `listener 0 127.0.0.1
allow_anonymous true
listener 0 127.0.0.1
mount_point tenantA/
`

// TestMountPointConfig: mount_point from a configuration file isolates
// the clients of its listener under the prefix, end to end.
func TestMountPointConfig(t *testing.T) {
	plainPort, logs := startMqbroker(t, mountConf)
	// The banner names both listeners; the mounted one says so.
	re := regexp.MustCompile(`listening on mqtt://127\.0\.0\.1:(\d+)\s+\(mount point "tenantA/"\)`)
	m := re.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("banner does not show the mount point:\n%s", logs.String())
	}
	mountPort, _ := strconv.Atoi(m[1])
	if mountPort == plainPort {
		t.Fatalf("the first listener (%d) shows the mount point", plainPort)
	}

	plain := tclientOn(t, plainPort, "plain", "tenantA/#")
	mounted := tclientOn(t, mountPort, "mounted", "#")
	mounted.publish("x", "1")
	plain.expect("tenantA/x", "1")
	mounted.expect("x", "1")

	plain.publish("other/z", "outside")
	plain.publish("tenantA/y", "2")
	plain.expect("tenantA/y", "2")
	mounted.expect("y", "2") // other/z, sent before, was not delivered
}

func TestMountPointPrintConfig(t *testing.T) {
	path := writeFile(t, t.TempDir(), "mount.conf", mountConf)
	code, out, errs := runApp(t, "--print-config", "-c", path)
	if code != 0 {
		t.Fatalf("--print-config: exit %d: %s", code, errs)
	}
	if n := strings.Count(out, "\nmount_point tenantA/\n"); n != 1 {
		t.Fatalf("--print-config shows mount_point %d times:\n%s", n, out)
	}
	// The output is a configuration that reads back the same.
	again := writeFile(t, filepath.Dir(path), "printed.conf", out)
	code, out2, errs := runApp(t, "--print-config", "-c", again)
	if code != 0 || out2 != out {
		t.Fatalf("printed configuration does not read back (exit %d: %s):\n%s\n---\n%s", code, errs, out, out2)
	}

	bad := writeFile(t, filepath.Dir(path), "bad.conf", "listener 0 127.0.0.1\nmount_point a/#\n")
	if code, _, errs := runApp(t, "--test-config", "-c", bad); code != 1 || !strings.Contains(errs, "bad.conf:2: mount_point:") {
		t.Errorf("--test-config with a wildcard mount point: exit %d: %s", code, errs)
	}
}
