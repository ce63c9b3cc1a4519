package cliutil

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is where -L URL points a client.
type Target struct {
	Scheme    string // canonical: "mqtt", "mqtts", "ws" or "wss"
	Host      string // host name or IP address, without brackets
	Port      int
	Username  string
	Password  string
	HasUser   bool   // the URL had a user part ("mqtt://@host" has an empty one)
	HasPass   bool   // the URL had ":password" after the user
	Topic     string // mqtt(s): everything after the first '/' after the host, raw
	WSPath    string // ws(s): the HTTP request path (and query), default "/mqtt"
	TLS       bool
	WebSocket bool
	Socket    string // unix: the path of the unix domain socket
	// More are further brokers of the same cluster, from a host list in
	// the URL (mqtt://a:1883,b:1884/topic); Port 0 means the scheme's.
	More []HostPort
}

// Default ports. mqtt/mqtts use the IANA ports (as mosquitto does). For
// ws/wss we follow RFC 6455 section 3 (the default port of a ws URI is 80,
// of a wss URI 443), so "ws://host/mqtt" reaches a broker behind a normal
// web server or proxy; brokers listening on 8080/8081/9001 need the port
// in the URL, which is how their URLs are usually written anyway.
const (
	DefaultPortMQTT  = 1883
	DefaultPortMQTTS = 8883
	DefaultPortWS    = 80
	DefaultPortWSS   = 443
	DefaultWSPath    = "/mqtt"
)

var schemes = map[string]struct {
	canon string
	port  int
	tls   bool
	ws    bool
}{
	"mqtt":  {"mqtt", DefaultPortMQTT, false, false},
	"tcp":   {"mqtt", DefaultPortMQTT, false, false}, // paho spelling
	"mqtts": {"mqtts", DefaultPortMQTTS, true, false},
	"ssl":   {"mqtts", DefaultPortMQTTS, true, false}, // paho spelling
	"tls":   {"mqtts", DefaultPortMQTTS, true, false},
	"ws":    {"ws", DefaultPortWS, false, true},
	"wss":   {"wss", DefaultPortWSS, true, true},
}

// ParseURL parses a -L URL:
//
//	mqtt://[user[:pass]@]host[:port][/topic]     (also tcp://)
//	mqtts://[user[:pass]@]host[:port][/topic]    (also ssl://, tls://)
//	ws://[user[:pass]@]host[:port][/path]
//	wss://[user[:pass]@]host[:port][/path]
//	unix:///path/of/socket
//
// The scheme is case-insensitive. As in mosquitto, for mqtt(s) the topic
// is everything after the first '/' that follows the host, taken verbatim
// (so "mqtt://h/a/#" subscribes to "a/#"; no percent-decoding, since '#'
// and '+' are wildcards, not URL syntax). mosquitto requires the topic;
// here it is optional (Topic is "" when absent) and the caller decides.
// For ws(s) the path (with any query) is the WebSocket request path,
// defaulting to "/mqtt"; a topic then comes from -t.
//
// Unlike mosquitto, the user information is split at the last '@' before
// the host and is percent-decoded (RFC 3986), so credentials may contain
// '@', ':' or '/' when written as %40, %3A, %2F; a literal '%' must be
// written %25. IPv6 hosts are written in brackets: mqtt://[::1]:1883/t.
// An empty host means "localhost". Ports must be 1-65535.
func ParseURL(s string) (Target, error) {
	var t Target
	i := strings.Index(s, "://")
	if i <= 0 {
		return t, errors.New("Error: unsupported URL scheme.")
	}
	if strings.EqualFold(s[:i], "unix") {
		// unix:///run/mq.sock (or unix://relative/path): a unix domain
		// socket, as mqbroker --listen writes it; the topic comes from -t.
		t.Scheme, t.Socket = "unix", s[i+3:]
		if t.Socket == "" {
			return t, errors.New("Error: Invalid URL for -L argument specified - no socket path.")
		}
		return t, nil
	}
	sc, ok := schemes[strings.ToLower(s[:i])]
	if !ok {
		return t, errors.New("Error: unsupported URL scheme.")
	}
	t.Scheme, t.Port, t.TLS, t.WebSocket = sc.canon, sc.port, sc.tls, sc.ws
	rest := s[i+3:]

	// Authority ends at the first '/' (for ws also '?'), but user info may
	// contain '/' only percent-encoded, so search after the last '@' that
	// precedes the first '/'.
	end := strings.IndexAny(rest, "/?")
	if !t.WebSocket {
		end = strings.IndexByte(rest, '/')
	}
	authority, tail := rest, ""
	if end >= 0 {
		authority, tail = rest[:end], rest[end:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		authority = authority[at+1:]
		t.HasUser = true
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if t.Username, err = url.PathUnescape(user); err != nil {
			return t, errors.New("Error: Invalid URL for -L argument specified - bad escape in user name.")
		}
		if hasPass {
			t.HasPass = true
			if t.Password, err = url.PathUnescape(pass); err != nil {
				return t, errors.New("Error: Invalid URL for -L argument specified - bad escape in password.")
			}
		}
	}
	if first, rest, ok := strings.Cut(authority, ","); ok {
		more, err := splitEntries(rest)
		if err != nil {
			return t, errors.New("Error: Invalid URL for -L argument specified - " + err.Error() + ".")
		}
		t.More, authority = more, first
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return t, err
	}
	if host == "" {
		host = "localhost"
	}
	t.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return t, errors.New("Error: Invalid URL for -L argument specified - invalid port " + strconv.Quote(port) + ".")
		}
		t.Port = n
	}
	if t.WebSocket {
		t.WSPath = tail
		if t.WSPath == "" || t.WSPath[0] == '?' {
			t.WSPath = DefaultWSPath + t.WSPath
		}
	} else if tail != "" {
		t.Topic = tail[1:]
	}
	return t, nil
}

func splitHostPort(a string) (host, port string, err error) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", errors.New("Error: Invalid URL for -L argument specified - missing ']' in host.")
		}
		host, rest := a[1:end], a[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", errors.New("Error: Invalid URL for -L argument specified - bad host.")
		}
		return host, rest[1:], nil
	}
	if strings.Count(a, ":") > 1 {
		return "", "", errors.New("Error: Invalid URL for -L argument specified - write IPv6 addresses in brackets.")
	}
	host, port, hasColon := strings.Cut(a, ":")
	if hasColon && port == "" {
		return "", "", errors.New("Error: Invalid URL for -L argument specified - invalid port \"\".")
	}
	return host, port, nil
}

// Addr is host:port for net.Dial (IPv6 hosts bracketed).
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// WebSocketURL is the URL to dial for ws/wss targets (without credentials).
func (t Target) WebSocketURL() string {
	return t.Scheme + "://" + t.Addr() + t.WSPath
}

// String renders the target as a URL with the password masked, for
// messages and -d traces.
func (t Target) String() string {
	var b strings.Builder
	b.WriteString(t.Scheme)
	b.WriteString("://")
	if t.HasUser {
		b.WriteString(url.PathEscape(t.Username))
		if t.HasPass {
			b.WriteString(":***")
		}
		b.WriteByte('@')
	}
	b.WriteString(t.Addr())
	if t.WebSocket {
		b.WriteString(t.WSPath)
	} else if t.Topic != "" {
		b.WriteByte('/')
		b.WriteString(t.Topic)
	}
	return b.String()
}

// HostPort is one entry of a host list; Port 0 means "not given".
type HostPort struct {
	Host string
	Port int
}

// SplitHostList parses a comma-separated list of HOST or HOST:PORT
// entries (IPv6 addresses in brackets when a port follows: [::1]:1883), as
// -h and -L accept to name several brokers of a cluster. A value without
// a comma is one entry, so a single -h behaves as before.
func SplitHostList(s string) ([]HostPort, error) {
	if !strings.Contains(s, ",") && !strings.HasPrefix(s, "[") {
		// One value: taken as it is (as mosquitto does with -h).
		return []HostPort{{Host: s}}, nil
	}
	return splitEntries(s)
}

// splitEntries parses HOST[:PORT],HOST[:PORT],...
func splitEntries(s string) ([]HostPort, error) {
	var out []HostPort
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, errors.New("empty entry in the host list " + strconv.Quote(s))
		}
		host, port := e, ""
		switch {
		case strings.HasPrefix(e, "["):
			end := strings.IndexByte(e, ']')
			if end < 0 || (end+1 < len(e) && e[end+1] != ':') {
				return nil, errors.New("bad host " + strconv.Quote(e))
			}
			host = e[1:end]
			if end+1 < len(e) {
				port = e[end+2:]
			}
		case strings.Count(e, ":") == 1:
			host, port, _ = strings.Cut(e, ":")
		}
		hp := HostPort{Host: host}
		if port != "" {
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 {
				return nil, errors.New("invalid port " + strconv.Quote(port) + " in " + strconv.Quote(e))
			}
			hp.Port = n
		}
		out = append(out, hp)
	}
	return out, nil
}
