//go:build unix

package scripts_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README test runs every ```sh block of README.md, in order, in one
// bash, in a copy of the checkout (as a newcomer would after "git clone"
// and "cd mqkit"), and fails when a command does not do what the README
// says. The conventions it reads, documented in README.md (Development):
//
//   - <!-- readme-test: skip: REASON --> on the line before a fence: the
//     block is not run (a foreground broker, the test suite itself, an
//     install outside the checkout). The reason is required.
//   - a comment "# exit N" on a command: it must exit N; any other
//     command must exit 0 (commands ending in & are not waited for).
//   - a comment "prints: TEXT": TEXT must appear in what the commands
//     printed by the end of the run (background subscribers print later).
//
// A person types the next line once the previous one has had its effect;
// after a command started with &, the test waits until that process has
// a TCP socket listening (a broker) or connected (a client; then one
// second more for its subscription), bounded. Every process started is
// killed at the end.

// readmeTimeout bounds the whole run (make build included).
const readmeTimeout = 5 * time.Minute

// readmePorts are the fixed ports the README's examples use.
var readmePorts = []int{1883, 1884, 8080, 8883}

type readmeBlock struct {
	line  int      // README line of the first command
	lines []string // the block's lines
	skip  string   // why it is not run ("" = run)
}

var skipMarker = regexp.MustCompile(`^<!-- readme-test: skip: (.+) -->$`)

// readmeBlocks returns the ```sh blocks of the README.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		prev   string
		n      int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case cur == nil && l == "```sh":
			cur = &readmeBlock{line: n + 1}
			if m := skipMarker.FindStringSubmatch(prev); m != nil {
				cur.skip = m[1]
			} else if strings.Contains(prev, "readme-test") {
				t.Errorf("README.md:%d: malformed marker %q (want <!-- readme-test: skip: REASON -->)", n-1, prev)
			}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, l)
		}
		prev = l
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md: the block at line %d is not closed", cur.line)
	}
	return blocks
}

var (
	commentRE = regexp.MustCompile(`\s{2,}#\s(.*)$`)
	exitRE    = regexp.MustCompile(`\bexit (\d+)\b`)
	printsRE  = regexp.MustCompile(`\bprints: (.+)$`)
	heredocRE = regexp.MustCompile(`<<-?'?([A-Za-z_]+)'?`)
)

// readmeScript turns the blocks into one bash script. lineMap[i] is the
// README line of script line i+1; prints are the texts to find.
func readmeScript(blocks []readmeBlock) (script string, lineMap []int, prints []string) {
	var b strings.Builder
	emit := func(readmeLine int, s string) {
		for _, l := range strings.Split(s, "\n") {
			b.WriteString(l + "\n")
			lineMap = append(lineMap, readmeLine)
		}
	}
	emit(0, `__fail() { echo "README-TEST-FAIL line=$1 status=$2 want=$3"; exit 99; }
trap '__fail $LINENO $? 0' ERR
__expect() { [[ $2 == "$1" ]] || __fail "$3" "$2" "$1"; }
# __settle PID: wait (at most 10 s) until PID has a TCP socket listening or
# connected, as a person waits for a broker's banner or a subscriber.
__settle() {
	local pid=$1 i fd link inode
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		for fd in /proc/"$pid"/fd/*; do
			link=$(readlink "$fd" 2>/dev/null) || continue
			[[ $link == socket:* ]] || continue
			inode=${link#socket:[}
			inode=${inode%]}
			# A listening socket: a broker is ready. A connected one: a
			# client, which subscribes next (CONNECT, SUBSCRIBE and their
			# acks take milliseconds; a second allows for a loaded machine).
			if awk -v i="$inode" '$10 == i && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
				return 0
			fi
			if awk -v i="$inode" '$10 == i && $4 == "01" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
				sleep 1
				return 0
			fi
		done
		sleep 0.05
	done
	echo "README-TEST-FAIL: process $pid opened no TCP socket within 10 s"
	exit 99
}`)
	for _, bl := range blocks {
		if bl.skip != "" {
			continue
		}
		emit(bl.line, fmt.Sprintf("echo '---- README.md:%d'", bl.line))
		heredoc := ""
		start := -1 // index of the first line of a continued command
		for i, l := range bl.lines {
			rl := bl.line + i
			if heredoc != "" {
				emit(rl, l)
				if l == heredoc {
					heredoc = ""
				}
				continue
			}
			if m := heredocRE.FindStringSubmatch(l); m != nil {
				heredoc = m[1]
				emit(rl, l)
				continue
			}
			if start < 0 {
				start = i
			}
			if strings.HasSuffix(l, `\`) {
				continue // the command goes on
			}
			cmd := bl.lines[start : i+1]
			first := bl.line + start
			start = -1
			comment := ""
			if m := commentRE.FindStringSubmatchIndex(cmd[len(cmd)-1]); m != nil {
				comment = cmd[len(cmd)-1][m[2]:m[3]]
			}
			if m := printsRE.FindStringSubmatch(comment); m != nil {
				prints = append(prints, strings.TrimSpace(m[1]))
			}
			code := strings.TrimRight(strings.Join(cmd, "\n"), " ")
			last := cmd[len(cmd)-1]
			if m := commentRE.FindStringIndex(last); m != nil {
				last = last[:m[0]]
			}
			switch m := exitRE.FindStringSubmatch(comment); {
			case strings.HasSuffix(strings.TrimSpace(last), "&"):
				emit(first, code)
				emit(rl, "__settle $!")
			case m != nil:
				// Run it in a list, so a non-zero status does not trip ERR.
				body := strings.Join(append(cmd[:len(cmd)-1:len(cmd)-1], last), "\n")
				emit(first, "__rc=0; "+strings.TrimRight(body, " ")+" || __rc=$?")
				emit(rl, fmt.Sprintf("__expect %s $__rc $LINENO", m[1]))
			default:
				emit(first, code)
			}
		}
	}
	// The end: every background job (brokers, subscribers) is stopped.
	emit(0, "trap - ERR\njobs -p | xargs -r kill 2>/dev/null\nwait 2>/dev/null\necho README-TEST-END")
	return b.String(), lineMap, prints
}

// copyCheckout copies the repository's files (not bin/, build/, data/ or
// .git) to dir: a fresh clone, as far as the README is concerned.
func copyCheckout(t *testing.T, root, dir string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "build", "data", filepath.Join("scripts", "out"):
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadmeBlocks checks the README's blocks without running them: the
// conventions are used correctly, and few blocks are skipped.
func TestReadmeBlocks(t *testing.T) {
	blocks := readmeBlocks(t, filepath.Join(repoRoot(t), "README.md"))
	var run, skipped int
	for _, b := range blocks {
		if b.skip != "" {
			skipped++
			continue
		}
		run++
		for i, l := range b.lines {
			if strings.Contains(l, "kill %") || strings.Contains(l, "kill -9 %") {
				t.Errorf("README.md:%d: a job number (%q) depends on what ran before; keep the process id ($!)", b.line+i, l)
			}
			if strings.HasPrefix(l, "bin/") {
				t.Errorf("README.md:%d: %q: bin/ is on PATH since the quick start", b.line+i, l)
			}
		}
	}
	if run < 15 || skipped > 6 {
		t.Errorf("%d blocks run, %d skipped: the README test should run nearly all of them", run, skipped)
	}
	script, _, prints := readmeScript(blocks)
	if len(prints) < 8 || !strings.Contains(script, "__expect 27 $__rc") {
		t.Errorf("prints %q; script:\n%s", prints, script)
	}
}

// TestReadme runs the README, as described at the top of this file.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make build and every README example (-short)")
	}
	root := repoRoot(t)
	requireTools(t, "bash, make, openssl, go; apt-get install mosquitto mosquitto-clients", "bash", "make", "openssl", "go", "awk",
		"mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd")
	for _, p := range readmePorts {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			skipOrFail(t, fmt.Sprintf("port %d, which the README's examples use, is taken: %v", p, err))
		}
		l.Close()
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	script, lineMap, prints := readmeScript(blocks)
	dir := t.TempDir()
	copyCheckout(t, root, dir)
	sf := filepath.Join(t.TempDir(), "readme.sh")
	if err := os.WriteFile(sf, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv()
	res := bash(readmeTimeout, env, "-c", `cd "$1" && source "$2"`, "bash", dir, sf)
	out := res.out
	if res.err != nil {
		t.Fatalf("README run: %v\n%s", res.err, out)
	}
	if m := regexp.MustCompile(`README-TEST-FAIL line=(\d+) status=(\d+) want=(\d+)`).FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		rl := 0
		if n >= 1 && n <= len(lineMap) {
			rl = lineMap[n-1]
		}
		t.Fatalf("README.md:%d exited %s, want %s:\n%s", rl, m[2], m[3], out)
	}
	if res.code != 0 || !strings.Contains(out, "README-TEST-END") {
		t.Fatalf("README run exited %d before its end:\n%s", res.code, out)
	}
	for _, p := range prints {
		if !strings.Contains(out, p) {
			t.Errorf("the README says a command prints %q; it did not:\n%s", p, out)
		}
	}
}
