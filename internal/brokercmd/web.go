package brokercmd

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/web"
)

// The "protocol http" listeners (an mqbroker extension) serve the web
// view, /metrics, /healthz and /readyz (internal/web). One reachable from
// other machines asks for a login: a user of the --user accounts or of
// the password file that applies to the listener.

// httpListener turns a protocol http listener into a web.Listener.
func (p *plan) httpListener(name string, l *config.Listener) (web.Listener, error) {
	wl := web.Listener{Name: name, Addr: l.Addr(), RequireLogin: reachable(l, nil)}
	if l.TLS() {
		r, err := auth.NewTLSReloader(auth.TLSOptions{CertFile: l.CertFile, KeyFile: l.KeyFile, TLSVersion: l.TLSVersion})
		if err != nil {
			return wl, fmt.Errorf("%s: %w", where(l), err)
		}
		p.reloaders = append(p.reloaders, r)
		wl.TLS = r.Config()
	}
	return wl, nil
}

// checkHTTPLogin refuses a web listener reachable from other machines
// when nobody could log in to it.
func (p *plan) checkHTTPLogin(cfg *config.Config) error {
	for i, l := range cfg.Listeners {
		if l.Protocol != config.ProtocolHTTP || !reachable(l, nil) {
			continue
		}
		if sc := p.guard.byListener[p.names[i]]; sc == nil || (sc.users == nil && !sc.sec.HasPasswordFile()) {
			return &config.Error{Pos: l.Pos, Option: "protocol",
				Msg: fmt.Sprintf("the web view on %s is reachable from other machines and needs a login: add password_file or --user NAME:PASSWORD, or bind it to 127.0.0.1", l.Addr())}
		}
	}
	return nil
}

// login checks a web view login on the listener called name: a --user
// account, else a user of the password file. Unlike an MQTT CONNECT,
// allow_anonymous never lets anyone in.
func (p *plan) login(name, user, password string) bool {
	sc := p.guard.byListener[name]
	if sc == nil {
		return false
	}
	if sc.users != nil && sc.users.Has(user) {
		return sc.users.Check(user, []byte(password))
	}
	if !sc.sec.HasPasswordFile() {
		return false
	}
	return sc.sec.Authenticate(user, true, []byte(password), true) == nil
}

// webClientID is the client id the ACL sees for the web view's publishes.
const webClientID = "mqbroker-web"

// newWebServer builds the web server for the plan's http listeners (nil
// when there are none). Call it before the broker starts, so that its
// topic tree sees every message.
func newWebServer(p *plan, cfg *config.Config, b *broker.Broker, bridges *atomic.Pointer[[]*bridge.Bridge], commit *broker.Histogram) (*web.Server, error) {
	if len(p.web) == 0 {
		return nil, nil
	}
	ls := append([]web.Listener(nil), p.web...)
	for i := range ls {
		name := ls[i].Name
		ls[i].Login = func(user, password string) bool { return p.login(name, user, password) }
	}
	opts := web.Options{
		Broker:       b,
		Listeners:    ls,
		AllowPublish: cfg.HTTPAllowPublish,
		MayPublish: func(user, topic string) bool {
			if !p.guard.anyACL {
				return true
			}
			ci := &broker.ClientInfo{ClientID: webClientID, Username: user, HasUsername: user != ""}
			ci.SetListener(ls[0].Name, "")
			return p.guard.Authorize(ci, topic, broker.AccessWrite)
		},
		Bridges: func() []bridge.Status {
			all := bridges.Load()
			if all == nil {
				return nil
			}
			out := make([]bridge.Status, 0, len(*all))
			for _, br := range *all {
				out = append(out, br.Status())
			}
			return out
		},
		StoreCommit: commit,
		Logger:      p.opts.Logger,
	}
	return web.New(opts)
}

// webAddr returns the bound address of web listener name, or nil.
func webAddr(ws *web.Server, name string) net.Addr {
	if ws == nil {
		return nil
	}
	return ws.Addr(name)
}
