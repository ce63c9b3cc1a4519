package brokercmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/mqkit/mqkit/internal/config"
)

// checkFile reports, at the line of the option that named it, a file the
// broker cannot read: a missing certfile is an error at its "certfile"
// line, not at the "listener" line. dir is true for directories (capath).
// Errors about a file's content (a bad PEM block, an ACL syntax error) are
// left to the loaders, which know the file's own line numbers.
func checkFile(pos config.Pos, option, path string, dir bool) error {
	if path == "" {
		return nil
	}
	var err error
	if dir {
		_, err = os.ReadDir(path)
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil && fi.IsDir() {
				err = errors.New("is a directory")
			}
			f.Close()
		}
	}
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &config.Error{Pos: pos, Option: option, Msg: fmt.Sprintf("cannot read %q: %v", path, err)}
}

// checkListenerFiles checks the TLS files of a listener.
func checkListenerFiles(l *config.Listener) error {
	for _, f := range []struct {
		option, path string
		dir          bool
	}{
		{"certfile", l.CertFile, false}, {"keyfile", l.KeyFile, false}, {"cafile", l.CAFile, false},
		{"capath", l.CAPath, true}, {"crlfile", l.CRLFile, false},
	} {
		if err := checkFile(optionPos(l, f.option), f.option, f.path, f.dir); err != nil {
			return err
		}
	}
	return nil
}

// optionPos is where a listener option was set; for a listener from the
// command line (--listen, -p), which has no lines, its origin.
func optionPos(l *config.Listener, option string) config.Pos {
	if p := l.OptionPos(option); p != (config.Pos{}) {
		return p
	}
	return config.Pos{File: where(l)}
}

// checkSecurityFiles checks the password and ACL files that apply to l.
func checkSecurityFiles(cfg *config.Config, l *config.Listener) error {
	s := cfg.SecurityFor(l)
	if err := checkFile(cfg.PasswordFilePos(l), "password_file", s.PasswordFile, false); err != nil {
		return err
	}
	return checkFile(cfg.ACLFilePos(l), "acl_file", s.ACLFile, false)
}

// checkBridgeFiles checks a bridge's TLS files.
func checkBridgeFiles(b *config.Bridge) error {
	for _, f := range []struct {
		option, path string
		dir          bool
	}{
		{"bridge_cafile", b.CAFile, false}, {"bridge_capath", b.CAPath, true},
		{"bridge_certfile", b.CertFile, false}, {"bridge_keyfile", b.KeyFile, false},
	} {
		if err := checkFile(b.OptionPos(f.option), f.option, f.path, f.dir); err != nil {
			return fmt.Errorf("%w (bridge %s)", err, b.Name)
		}
	}
	return nil
}
