package brokercmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mqkit/mqkit/internal/auth"
)

// passwdCommand is `mqbroker passwd`, a mosquitto_passwd work-alike that
// writes $7$ (PBKDF2-SHA512) lines the real mosquitto accepts.
func passwdCommand() *cli.Command {
	return &cli.Command{
		Name:  "passwd",
		Usage: "create or update a mosquitto password file",
		UsageText: `mqbroker passwd [-c | -D] FILE USER            prompt for the password (twice)
   mqbroker passwd [-c] -b FILE USER PASSWORD      batch mode
   mqbroker passwd -U FILE                         hash a file of user:password lines
   The password is read from the terminal, or as one line from stdin when stdin is not a terminal.
   Lines already hashed ($6$ or $7$) are never re-hashed.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "c", Usage: "create a new file (overwrites an existing one)"},
			&cli.BoolFlag{Name: "D", Usage: "delete USER from FILE"},
			&cli.BoolFlag{Name: "b", Usage: "take the password from the command line (batch mode)"},
			&cli.BoolFlag{Name: "U", Usage: "hash every plain-text password in FILE"},
			&cli.StringFlag{Name: "H", Value: "sha512-pbkdf2", Usage: "hash `TYPE` (only sha512-pbkdf2, as mosquitto 2.0's default)"},
		},
		Action: runPasswd,
	}
}

func runPasswd(c *cli.Context) error {
	fail := func(format string, a ...any) error {
		return cli.Exit("Error: "+fmt.Sprintf(format, a...), 1)
	}
	if h := c.String("H"); h != "sha512-pbkdf2" {
		return fail("-H %q: only sha512-pbkdf2 ($7$) is supported", h)
	}
	args := c.Args().Slice()
	switch {
	case c.Bool("U"):
		if len(args) != 1 || c.Bool("c") || c.Bool("D") || c.Bool("b") {
			return fail("-U takes just a password file")
		}
		if err := auth.HashPlainFile(args[0]); err != nil {
			return fail("%v", err)
		}
		return nil
	case c.Bool("D"):
		if len(args) != 2 || c.Bool("c") || c.Bool("b") {
			return fail("-D takes a password file and a username")
		}
		if err := auth.DeleteUser(args[0], args[1]); err != nil {
			return fail("%v", err)
		}
		return nil
	}
	var password []byte
	if c.Bool("b") {
		if len(args) != 3 {
			return fail("-b takes a password file, a username and a password")
		}
		password = []byte(args[2])
	} else {
		if len(args) != 2 {
			return fail("expected a password file and a username (see 'mqbroker passwd --help')")
		}
		var err error
		if password, err = readPassword(os.Stdin, c.App.ErrWriter); err != nil {
			return fail("%v", err)
		}
	}
	if err := auth.UpdatePasswordFile(args[0], c.Bool("c"), args[1], password); err != nil {
		return fail("%v", err)
	}
	return nil
}

// readPassword prompts twice on a terminal, or reads one line otherwise.
func readPassword(in *os.File, prompt io.Writer) ([]byte, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return nil, errors.New("no password on stdin")
		}
		return []byte(strings.TrimRight(line, "\r\n")), nil
	}
	fmt.Fprint(prompt, "Password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(prompt, "Reenter password: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	if string(a) != string(b) {
		return nil, errors.New("passwords do not match")
	}
	return a, nil
}
