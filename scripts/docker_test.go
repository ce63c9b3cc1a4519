//go:build linux

package scripts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageConfig is the part of `buildah inspect --type image` this test reads
// (the Docker-format image config).
type imageConfig struct {
	Docker struct {
		Config struct {
			User         string
			Env          []string
			Entrypoint   []string
			Cmd          []string
			WorkingDir   string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			Healthcheck  *struct{ Test []string }
		} `json:"config"`
	}
}

// TestDockerImage builds the Dockerfile with buildah (no Docker daemon
// here, and no Docker Hub: scripts/docker-base.sh makes the golang base
// image from the Debian mirror and this machine's Go) and runs the result
// as a container would, without a container runtime (this machine cannot
// set a container's rlimits): its file system mounted, in a network
// namespace of its own, as the image's user, with its entrypoint and
// default command. It checks the image's settings, that the health check
// passes against the default command, that the broker keeps a retained
// message in the /data volume across a restart as the non-root user,
// and that the binaries report the VERSION build argument.
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image (about 2 minutes the first time)")
	}
	requireTools(t, "apt-get install buildah debootstrap iproute2 util-linux", "buildah", "debootstrap", "unshare", "nsenter", "chroot", "ip")
	if os.Geteuid() != 0 {
		skipOrFail(t, "building and mounting images needs root")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = root
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
		}
		return strings.TrimSpace(out.String())
	}

	run("scripts/docker-base.sh") // the golang base image, unless it is there already
	const tag = "localhost/mqkit-test:image"
	const version = "v9.9.9-imagetest"
	run("buildah", "bud", "--pull=never", "--isolation", "chroot", "--format", "docker",
		"--build-arg", "VERSION="+version, "-t", tag, ".")
	t.Cleanup(func() { _ = exec.Command("buildah", "rmi", "-f", tag).Run() })

	// The image's settings.
	var ic imageConfig
	if err := json.Unmarshal([]byte(run("buildah", "inspect", "--type", "image", tag)), &ic); err != nil {
		t.Fatal(err)
	}
	c := ic.Docker.Config
	if c.User != "10001:10001" {
		t.Errorf("user %q, want 10001:10001 (not root)", c.User)
	}
	for _, p := range []string{"1883/tcp", "8883/tcp", "8080/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("no /data volume: %v", c.Volumes)
	}
	if c.Healthcheck == nil || len(c.Healthcheck.Test) < 2 || c.Healthcheck.Test[0] != "CMD" {
		t.Fatalf("health check %+v, want a CMD", c.Healthcheck)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/mqbroker"}) || len(c.Cmd) == 0 {
		t.Fatalf("entrypoint %q, cmd %q", c.Entrypoint, c.Cmd)
	}

	ctr := run("buildah", "from", "--pull=never", tag)
	t.Cleanup(func() { _ = exec.Command("buildah", "rm", ctr).Run() })
	mnt := run("buildah", "mount", ctr)

	// Nothing but the three static binaries, their CA bundle and the user.
	for _, bin := range []string{"mqbroker", "mqpub", "mqsub"} {
		out := run("chroot", "--userspec="+c.User, mnt, "/usr/local/bin/"+bin, "--version")
		if !strings.Contains(out, version) {
			t.Errorf("%s --version: %q, want %s (the VERSION build argument)", bin, out, version)
		}
	}
	if _, err := os.Stat(filepath.Join(mnt, "bin", "sh")); err == nil {
		t.Error("the image has a shell: the final stage should be FROM scratch")
	}

	// inImage runs a command of the image as its user, in the network
	// namespace of pid (the broker), with the image's environment.
	env := append([]string{"PATH=/usr/local/bin"}, c.Env...)
	inImage := func(pid int, argv ...string) *exec.Cmd {
		args := append([]string{"--net=/proc/" + fmt.Sprint(pid) + "/ns/net", "env", "-i"}, env...)
		args = append(args, "chroot", "--userspec="+c.User, mnt)
		return exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	}
	// start runs the entrypoint with the default command in a new network
	// namespace (so its ports, 1883 and 8080, are free), as `docker run`.
	type broker struct {
		cmd  *exec.Cmd
		done chan error // the broker's exit
	}
	start := func() broker {
		t.Helper()
		argv := append(slices.Clone(c.Entrypoint), c.Cmd...)
		script := `ip link set lo up && exec env -i "$@"`
		args := append([]string{"--net", "--", "sh", "-c", script, "sh"}, env...)
		args = append(args, "chroot", "--userspec="+c.User, mnt)
		cmd := exec.CommandContext(ctx, "unshare", append(args, argv...)...)
		var logb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logb, &logb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		b := broker{cmd, make(chan error, 1)}
		go func() { b.done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			if t.Failed() {
				t.Logf("broker output:\n%s", logb.String())
			}
		})
		// healthy: the image's own health check passes (with a deadline,
		// as docker's start period and retries).
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := inImage(b.cmd.Process.Pid, c.Healthcheck.Test[1:]...).CombinedOutput()
			if err == nil {
				break
			}
			select {
			case err := <-b.done:
				t.Fatalf("the broker exited (%v) before its health check passed", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("health check %q still fails after 30 s: %v\n%s", c.Healthcheck.Test[1:], err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return b
	}
	stop := func(b broker) {
		t.Helper()
		_ = b.cmd.Process.Signal(syscall.SIGTERM) // docker stop
		select {
		case err := <-b.done:
			if err != nil {
				t.Fatalf("the broker exited with %v on SIGTERM", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the broker did not stop within 15 s of SIGTERM")
		}
	}

	b := start()
	if out, err := inImage(b.cmd.Process.Pid, "mqpub", "-h", "127.0.0.1", "-p", "1883", "-q", "1", "-r",
		"-t", "image/test", "-m", "kept in /data").CombinedOutput(); err != nil {
		t.Fatalf("mqpub in the image: %v\n%s", err, out)
	}
	stop(b)
	owned := 0
	_ = filepath.WalkDir(filepath.Join(mnt, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil && fi.Sys().(*syscall.Stat_t).Uid == 10001 {
				owned++
			}
		}
		return nil
	})
	if owned == 0 {
		t.Error("no file in /data owned by the image's user after a retained QoS 1 message")
	}
	b = start()
	out, err := inImage(b.cmd.Process.Pid, "mqsub", "-h", "127.0.0.1", "-p", "1883", "-t", "image/test",
		"-C", "1", "-W", "10").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "kept in /data" {
		t.Fatalf("after a restart, mqsub got %q (%v), want the retained message kept in /data", out, err)
	}
	stop(b)
}
