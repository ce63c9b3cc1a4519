package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/version"
)

//go:embed static
var staticFS embed.FS

// csp allows nothing but this server's own scripts, styles and API: no
// inline script, no CDN (the view works offline), no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", staticFile("index.html", "text/html; charset=utf-8"))
	mux.Handle("GET /app.js", staticFile("app.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /app.css", staticFile("app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: promLogger{s}, MaxRequestsInFlight: 4, Timeout: 10 * time.Second}))
	mux.HandleFunc("GET /api/info", s.info)
	mux.HandleFunc("GET /api/topics", s.topics)
	mux.HandleFunc("GET /api/topic", s.topic)
	mux.HandleFunc("GET /api/clients", s.clients)
	mux.HandleFunc("GET /api/history", s.historyAPI)
	mux.HandleFunc("GET /api/live", s.live)
	mux.HandleFunc("GET /api/flow", s.flow)
	mux.HandleFunc("POST /api/publish", s.publish)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if !strings.HasPrefix(r.URL.Path, "/api/live") && !strings.HasPrefix(r.URL.Path, "/api/flow") {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		mux.ServeHTTP(w, r)
	})
}

// staticFile serves one of the page's embedded files with its content
// type set here. http.FileServer would look the type up in the mime
// package, whose first use loads the system's MIME tables
// (/etc/mime.types, /usr/share/mime/globs2): about 440 KB of maps kept
// for the life of the process, which every garbage collection marks
// again. Under load the broker's heap stays near the runtime's 4 MB
// minimum goal, so it collects about once per 10,000 messages routed
// (100 times a second at 1M msgs/s): that table was a third of the live
// heap and about 4 % more broker CPU per message once a browser had
// loaded the page (PERFORMANCE.md, the web view's cost).
func staticFile(name, contentType string) http.Handler {
	data, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		panic("web: embedded file missing: " + name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType) // serveContent then leaves mime alone
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})
}

type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Error("metrics: " + fmt.Sprint(v...)) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.opts.Broker.Live() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz: ready when every listener is open and the store is loaded
// (Broker.Ready), and the broker is not shutting down.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.opts.Broker.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"version": version.Version, "allowPublish": s.opts.AllowPublish,
		"user": userOf(r), "start": s.start.UnixMilli()})
}

// page reads offset and limit (at most 500, default 200).
func page(q url.Values) (offset, limit int) {
	offset, _ = strconv.Atoi(q.Get("offset"))
	limit, _ = strconv.Atoi(q.Get("limit"))
	offset = max(offset, 0)
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	return offset, limit
}

// topics lists one branch of the topic tree: GET /api/topics?l=a&l=b
// lists the children of "a/b" (no l: the first level).
func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	levels := q["l"]
	if len(levels) > 256 {
		http.Error(w, "too many levels", http.StatusBadRequest)
		return
	}
	offset, limit := page(q)
	b, ok := s.branch(levels, offset, limit)
	if !ok {
		http.Error(w, "no such branch", http.StatusNotFound)
		return
	}
	writeJSON(w, b)
}

// branch is one branch of the topic tree as /api/topics answers and a
// live tick carries it ("root"); false if there is no such branch.
func (s *Server) branch(levels []string, offset, limit int) (map[string]any, bool) {
	list, total, ok := s.tree.list(levels, offset, limit)
	if !ok {
		return nil, false
	}
	return map[string]any{"children": list, "total": total, "offset": offset, "limit": limit, "topics": s.tree.ntopics.Load()}, true
}

// topic returns one topic's figures and last value: GET /api/topic?t=a/b.
func (s *Server) topic(w http.ResponseWriter, r *http.Request) {
	v := s.tree.get(r.URL.Query().Get("t"))
	if v == nil {
		http.Error(w, "no such topic", http.StatusNotFound)
		return
	}
	writeJSON(w, v)
}

type clientJSON struct {
	ID             string                `json:"id"`
	User           string                `json:"user"`
	Address        string                `json:"address"`
	Listener       string                `json:"listener"`
	Protocol       string                `json:"protocol"`
	Connected      bool                  `json:"connected"`
	KeepAlive      uint16                `json:"keepalive"`
	CleanStart     bool                  `json:"cleanStart"`
	SessionExpiry  int64                 `json:"sessionExpiry"` // -1 = never
	Will           *broker.WillInfo      `json:"will,omitempty"`
	Subscriptions  []broker.Subscription `json:"subscriptions"`
	Inflight       int                   `json:"inflight"`
	Queued         int                   `json:"queued"`
	ConnectedSince int64                 `json:"connectedSince,omitempty"` // Unix ms
	DisconnectedAt int64                 `json:"disconnectedAt,omitempty"`
}

var protoNames = map[int]string{3: "3.1", 4: "3.1.1", 5: "5.0"}

// clients lists the sessions: GET /api/clients?q=FILTER&offset=&limit=.
func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter := q.Get("q")
	offset, limit := page(q)
	all := s.opts.Broker.Clients()
	var sel []broker.ClientSnapshot
	for _, c := range all {
		if filter == "" || strings.Contains(c.ClientID, filter) || strings.Contains(c.Username, filter) {
			sel = append(sel, c)
		}
	}
	total := len(sel)
	sel = sel[min(offset, total):min(offset+limit, total)]
	out := make([]clientJSON, 0, len(sel))
	for _, c := range sel {
		cj := clientJSON{ID: c.ClientID, User: c.Username, Address: c.RemoteAddr, Listener: c.Listener,
			Protocol: protoNames[c.Version], Connected: c.Connected, KeepAlive: c.KeepAlive, CleanStart: c.CleanStart,
			SessionExpiry: int64(c.SessionExpiry), Will: c.Will, Subscriptions: c.Subscriptions,
			Inflight: c.Inflight, Queued: c.Queued}
		if c.SessionExpiry == 0xFFFFFFFF {
			cj.SessionExpiry = -1
		}
		if cj.Subscriptions == nil {
			cj.Subscriptions = []broker.Subscription{}
		}
		if !c.ConnectedSince.IsZero() {
			cj.ConnectedSince = c.ConnectedSince.UnixMilli()
		}
		if !c.DisconnectedAt.IsZero() {
			cj.DisconnectedAt = c.DisconnectedAt.UnixMilli()
		}
		out = append(out, cj)
	}
	writeJSON(w, map[string]any{"clients": out, "total": total, "sessions": len(all)})
}

func (s *Server) historyAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.history())
}

// stream starts a server-sent events response, within MaxStreams.
func (s *Server) stream(w http.ResponseWriter) (send func(event string, v any) bool, ok bool) {
	if s.streams.Add(1) > int64(s.opts.MaxStreams) {
		s.streams.Add(-1)
		http.Error(w, "too many live streams", http.StatusServiceUnavailable)
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	// A stream outlives the server's ReadTimeout (meant for requests).
	_ = rc.SetReadDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	return func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		// A browser that does not read for writeTimeout is dropped.
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}, true
}

// live streams one "tick" a second: the latest rate sample, the number of
// topics, and a generation number that changes when messages arrived
// (the page then refreshes what it shows). Nothing is sent per message, so a 10,000 msg/s stream costs the
// browser one small event a second.
//
// A tick whose generation differs from the previous tick's carries the
// root branch of the topic tree too ("root": what GET /api/topics?limit=
// answers, branch; limit as given to /api/live, 200 by default), so a page that
// shows the root alone redraws without a request of its own each second:
// in a browser a fetch costs more than the event (issue 15, the page on
// the broker's machine).
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	_, limit := page(r.URL.Query())
	send, ok := s.stream(w)
	if !ok {
		return
	}
	defer s.streams.Add(-1)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	sentGen := int64(-1) // the generation of the last root sent
	if !send("hello", map[string]any{"version": version.Version}) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-t.C:
			var last sample
			if h := s.history(); len(h) > 0 {
				last = h[len(h)-1]
			}
			gen := s.treeGen.Load()
			tick := map[string]any{"sample": last, "topics": s.tree.ntopics.Load(), "gen": gen}
			if gen != sentGen {
				sentGen = gen
				tick["root"], _ = s.branch(nil, 0, limit)
			}
			if !send("tick", tick) {
				return
			}
		}
	}
}

// flow streams the packets of one client: GET /api/flow?client=ID.
func (s *Server) flow(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("client")
	if id == "" || len(id) > 65535 || !utf8.ValidString(id) {
		http.Error(w, "client id required", http.StatusBadRequest)
		return
	}
	send, ok := s.stream(w)
	if !ok {
		return
	}
	defer s.streams.Add(-1)
	fw, hist, cancel := s.flows.watch(id)
	defer cancel()
	for _, ev := range hist {
		if !send("packet", ev) {
			return
		}
	}
	if !send("ready", map[string]any{"client": id}) {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	var reported int64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case ev := <-fw.ch:
			if !send("packet", ev) {
				return
			}
		case <-keep.C:
			if d := fw.dropped.Load(); d != reported {
				reported = d
				if !send("dropped", map[string]any{"dropped": d}) {
					return
				}
			} else if !send("ping", map[string]any{}) {
				return
			}
		}
	}
}

type publishReq struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
	QoS     byte   `json:"qos"`
	Retain  bool   `json:"retain"`
}

// publish handles the publish form: POST /api/publish with a JSON body
// {"topic","payload","qos","retain"}. Only when AllowPublish; the
// request must be same-origin: JSON content type and the X-Mqkit-Request
// header (neither can be sent cross-site without a CORS preflight, which
// this server never grants), and an Origin header, when present, equal to
// this server's.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowPublish {
		http.Error(w, "publishing from the web view is off (http_allow_publish)", http.StatusForbidden)
		return
	}
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	var req publishReq
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.QoS > 2 {
		http.Error(w, "qos must be 0, 1 or 2", http.StatusBadRequest)
		return
	}
	if s.opts.MayPublish != nil && !s.opts.MayPublish(userOf(r), req.Topic) {
		http.Error(w, "not authorised to publish to this topic", http.StatusForbidden)
		return
	}
	n, err := s.opts.Broker.Publish(req.Topic, []byte(req.Payload), req.QoS, req.Retain)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]any{"subscribers": n})
}

func sameOrigin(r *http.Request) bool {
	if r.Header.Get("X-Mqkit-Request") != "publish" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}
