package clicmd

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/mqkit/mqkit/internal/cliutil"
)

// mosquitto's clients read their options in order and let a later one
// overwrite what an earlier one set, field by field; urfave/cli only
// keeps the last value of each flag. Where that gives another result,
// resolveOrder rewrites the words (options file first, then the command
// line) before urfave/cli parses them:
//
//   - -L URL sets the host, the port (1883 or 8883 when the URL has none),
//     the topic and, when the URL has them, the user name and password. A
//     -h, -p, -t, -u or -P given before it is overwritten, so it is
//     dropped; one given after it wins over the URL, as it does in
//     mosquitto ("-L mqtt://host/t -p 1884"), and parseEndpoint applies it.
//   - -D switches the protocol to MQTT 5; a -V given before the last -D is
//     overwritten, so it is dropped. A -V after it wins, and the -D
//     properties then meet an MQTT 3 connection (see parseConn).
//   - mqsub subscribes to the URL's topic where -L stood among the -t
//     options; the number of -t before it goes to the hidden
//     --url-topic-at.
func resolveOrder(app *cli.App, words []string) []string {
	opts := newOptionTable(app)
	type occurrence struct{ at, n int } // index of the option word, words it takes
	seen := map[string][]occurrence{}
	lastD := -1
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			break
		}
		name, _, inline, ok := parseOption(w)
		if !ok {
			continue
		}
		n := 0
		if !inline {
			n = min(opts.valueCount(name, words[i+1:]), len(words)-i-1)
		}
		if isPropertyName(name) {
			lastD = i
		} else if p := opts.primary(name); p != "" {
			seen[p] = append(seen[p], occurrence{i, n})
		}
		i += n
	}
	drop := map[int]int{} // index -> words to drop there
	dropBefore := func(flag string, at int) {
		for _, o := range seen[flag] {
			if o.at < at {
				drop[o.at] = 1 + o.n
			}
		}
	}
	if v := seen[flagProtocol]; lastD >= 0 && len(v) > 0 {
		dropBefore(flagProtocol, lastD)
	}
	var extra []string
	if urls := seen[flagURL]; len(urls) > 0 {
		last := urls[len(urls)-1]
		if value, ok := optionValue(words, last.at, last.n); ok {
			if t, err := cliutil.ParseURL(value); err == nil {
				if t.Scheme != "unix" {
					dropBefore(flagHost, last.at)
					dropBefore(flagPort, last.at)
				}
				if t.HasUser {
					dropBefore(flagUsername, last.at)
				}
				if t.HasPass {
					dropBefore(flagPassword, last.at)
				}
				if t.Topic != "" && app.Name == "mqpub" {
					dropBefore(flagTopic, last.at)
				}
				if t.Topic != "" && hasFlag(app, flagURLTopicAt) {
					before := 0
					for _, o := range seen[flagTopic] {
						if o.at < last.at {
							before++
						}
					}
					extra = []string{"--" + flagURLTopicAt, strconv.Itoa(before)}
				}
			}
		}
	}
	if len(drop) == 0 && extra == nil {
		return words
	}
	out := make([]string, 0, len(words)+len(extra))
	for i := 0; i < len(words); i++ {
		if n, ok := drop[i]; ok {
			i += n - 1
			continue
		}
		out = append(out, words[i])
	}
	return append(extra, out...)
}

// optionValue is the value of the option at words[at] that takes n words:
// "-L URL" or "--url=URL".
func optionValue(words []string, at, n int) (string, bool) {
	if _, v, inline, _ := parseOption(words[at]); inline {
		return v, true
	}
	if n == 1 {
		return words[at+1], true
	}
	return "", false
}

func hasFlag(app *cli.App, name string) bool {
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}
