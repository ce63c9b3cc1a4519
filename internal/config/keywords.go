package config

import "sort"

// Keywords returns every configuration option mqbroker accepts, sorted
// (bridge options included): the list the mqbroker.conf(5) manual page
// is generated from.
func Keywords() []string {
	out := make([]string, 0, len(options))
	for k := range options {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Refused returns the mosquitto options mqbroker refuses with an error,
// each with the reason given (prefix families such as plugin_opt_* and
// bridge_* are not expanded).
func Refused() map[string]string {
	out := make(map[string]string, len(unsupported))
	for k, v := range unsupported {
		out[k] = v
	}
	return out
}
