package clidoc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BashCompletions loads script into the bash at bashPath (a real shell,
// as a user's) and returns what <TAB> offers at the end of line, run in
// dir. It is for tests: the scripts are checked in the shell they are for.
func BashCompletions(ctx context.Context, bashPath, script, dir, line string) ([]string, error) {
	sf, err := os.CreateTemp("", "mqkit-completion-*.bash")
	if err != nil {
		return nil, err
	}
	defer os.Remove(sf.Name())
	if _, err := sf.WriteString(script); err != nil {
		sf.Close()
		return nil, err
	}
	sf.Close()
	prog := strings.Fields(line)[0]
	const driver = `source "$1" && cd "$2" || exit 1
read -r -a COMP_WORDS <<<"$3"
[[ "$3" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$3; COMP_POINT=${#3}
fn=$(complete -p "$4" | sed 's/.*-F \([^ ]*\).*/\1/')
"$fn" "$4" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.CommandContext(ctx, bashPath, "--norc", "--noprofile", "-c", driver, "bash", sf.Name(), dir, line, prog)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("bash completion of %q: %v\n%s", line, err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, filepath.Clean(l))
		}
	}
	return got, nil
}
