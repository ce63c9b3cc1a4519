package clicmd

import "github.com/urfave/cli/v2"

// urfave/cli v2 recomputes a flag's names (a regexp replacement per
// name) each time it looks a flag up, and before running the action it
// looks up every flag once per name of every flag (runFlagActions calls
// IsSet for each): with mqpub's seventy options that is thousands of
// regexp calls per run. The wrappers below return the names computed
// once; every other method (help text, Apply, IsSet, categories) is the
// embedded flag's.

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f stringFlag) Names() []string { return f.names }

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f boolFlag) Names() []string { return f.names }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f stringSliceFlag) Names() []string { return f.names }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f intFlag) Names() []string { return f.names }

// withFixedNames wraps each flag so its names are computed once.
func withFixedNames(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			out[i] = stringFlag{f, f.Names()}
		case *cli.BoolFlag:
			out[i] = boolFlag{f, f.Names()}
		case *cli.StringSliceFlag:
			out[i] = stringSliceFlag{f, f.Names()}
		case *cli.IntFlag:
			out[i] = intFlag{f, f.Names()}
		default:
			out[i] = f
		}
	}
	return out
}

// isBoolFlag reports whether f takes no value.
func isBoolFlag(f cli.Flag) bool {
	switch f.(type) {
	case *cli.BoolFlag, boolFlag:
		return true
	}
	return false
}
