package brokercmd

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/mqkit/mqkit/internal/auth"
	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/web"
)

// plan is everything needed to run a broker from a configuration.
type plan struct {
	opts      broker.Options
	names     []string // listener names, parallel to cfg.Listeners
	users     *users   // --user accounts, nil if none
	guard     *guard
	reloaders []*auth.TLSReloader
	bridges   []bridge.Options
	loopback6 []string       // [::1]:PORT twins of the local-only listeners (loopback6.go)
	web       []web.Listener // protocol http listeners (web.go)
}

// listenerName names listener i for logs, Broker.Addr and security scopes.
func listenerName(i int) string { return "listener-" + strconv.Itoa(i+1) }

// buildPlan turns a parsed configuration into broker options. It loads
// the password, ACL and TLS files, so every file error surfaces here
// (and from --test-config). us are the --user accounts (nil if none).
func buildPlan(cfg *config.Config, us *users, logger *slog.Logger, verbose bool) (*plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &plan{users: us}
	var maxQoS byte = 2
	var topicAlias uint16 = 10
	mqttListeners := 0
	for i, l := range cfg.Listeners {
		name := listenerName(i)
		if l.Protocol == config.ProtocolHTTP {
			wl, err := p.httpListener(name, l)
			if err != nil {
				return nil, err
			}
			p.web = append(p.web, wl)
			p.names = append(p.names, name)
			continue
		}
		mqttListeners++
		lc := broker.ListenerConfig{
			Name:           name,
			Network:        l.Network(),
			Addr:           l.Addr(),
			WebSocket:      l.Protocol == config.ProtocolWebsockets,
			WSPath:         l.WebsocketsPath,
			WSOrigins:      l.WebsocketsOrigins,
			MaxConnections: l.MaxConnections,
			MountPoint:     l.MountPoint,
			// use_username_as_clientid is per listener, as in mosquitto.
			UseUsernameAsClientID: l.UseUsernameAsClientID,
			ProxyProtocol:         l.ProxyProtocol,
			// With PROXY v2 and TLS terminated by the proxy, the header's
			// TLS facts stand for the listener's own (mosquitto 2.1).
			ProxyRequireTLS:         l.ProxyV2RequireTLS,
			ProxyRequireCertificate: l.ProxyProtocol == 2 && !l.TLS() && l.RequireCertificate,
		}
		// allow_zero_length_clientid and auto_id_prefix: global, or the
		// listener's own with per_listener_settings true.
		sec := cfg.SecurityFor(l)
		lc.DenyZeroLengthClientID = !sec.AllowZeroLengthClientID
		lc.AutoIDPrefix = sec.AutoIDPrefix
		for _, v := range l.AcceptProtocolVersions {
			lc.AcceptVersions = append(lc.AcceptVersions, mqtt.Version(v))
		}
		if len(lc.WSOrigins) == 0 && lc.WebSocket {
			// mosquitto 2.0 accepts any Origin unless websockets_origin is set.
			lc.WSOrigins = []string{"*"}
		}
		if err := checkListenerFiles(l); err != nil {
			return nil, err
		}
		if err := checkSecurityFiles(cfg, l); err != nil {
			return nil, err
		}
		if l.TLS() {
			r, err := auth.NewTLSReloader(auth.TLSOptions{
				CertFile: l.CertFile, KeyFile: l.KeyFile, CAFile: l.CAFile, CAPath: l.CAPath, CRLFile: l.CRLFile,
				// use_identity_as_username does not make a certificate
				// required: without require_certificate none is requested
				// (mosquitto 2.0: SSL_VERIFY_NONE) and every client is
				// refused, as in mosquitto.
				RequireCertificate: l.RequireCertificate,
				TLSVersion:         l.TLSVersion,
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", optionPos(l, "certfile"), err)
			}
			p.reloaders = append(p.reloaders, r)
			if l.UseIdentityAsUsername && !l.RequireCertificate {
				logger.Warn(fmt.Sprintf("Warning: %s: use_identity_as_username without require_certificate true: "+
					"no client certificate is requested, so every client of this listener is refused (as in mosquitto)", where(l)))
			}
			lc.TLS = r.Config()
		}
		// max_qos and max_topic_alias are per listener in mosquitto; the
		// broker applies one value to all, so listeners must agree.
		if mqttListeners == 1 {
			maxQoS, topicAlias = l.MaxQoS, l.MaxTopicAlias
		} else if l.MaxQoS != maxQoS || l.MaxTopicAlias != topicAlias {
			return nil, fmt.Errorf("%s: max_qos and max_topic_alias must be the same on every listener", where(l))
		}
		p.opts.Listeners = append(p.opts.Listeners, lc)
		p.names = append(p.names, name)
	}
	g, err := newGuard(cfg, p.names, us)
	if err != nil {
		return nil, err
	}
	p.guard = g
	if err := p.checkHTTPLogin(cfg); err != nil {
		return nil, err
	}
	if p.bridges, err = bridgeOptions(cfg); err != nil {
		return nil, err
	}
	o := &p.opts
	o.Authenticator = g
	if g.anyACL {
		o.Authorizer = g
	}
	o.MaxPacketSize = cfg.MaxPacketSize
	o.MessageSizeLimit = cfg.MessageSizeLimit
	o.TopicHierarchyLimit = cfg.TopicHierarchyLimit // -1: none (the broker's negative)
	o.MaxTopicLength = cfg.MaxTopicLength
	if cfg.MaxKeepalive != 65535 {
		o.MaxKeepAlive = cfg.MaxKeepalive
	}
	o.MaxInflight = int(cfg.MaxInflightMessages)
	if cfg.MaxInflightMessages == 0 {
		o.MaxInflight = -1 // 0 = unlimited in mosquitto.conf
	}
	o.MaxQueued = cfg.MaxQueuedMessages
	if cfg.MaxQueuedMessages == 0 {
		o.MaxQueued = -1
	}
	o.MaxQueuedBytes = cfg.MaxQueuedBytes
	o.MaxInflightBytes = cfg.MaxInflightBytes
	o.UpgradeOutgoingQoS = cfg.UpgradeOutgoingQoS
	o.NoRetainSourceCheck = !cfg.CheckRetainSource
	o.DisableRetain = !cfg.RetainAvailable
	q := mqtt.QoS(maxQoS)
	o.MaxQoS = &q
	o.MaxTopicAlias = int(topicAlias)
	if topicAlias == 0 {
		o.MaxTopicAlias = -1
	}
	o.PersistentClientExpiration = cfg.PersistentClientExpiration
	o.SysInterval = cfg.SysInterval
	if cfg.SysInterval == 0 {
		o.SysInterval = -1 // sys_interval 0 turns $SYS off
	}
	o.MaxConnections = cfg.GlobalMaxConnections // <= 0: unlimited
	o.MaxClients = cfg.GlobalMaxClients
	o.Logger = logger
	o.Verbose = verbose
	o.ConnectionMessages = cfg.ConnectionMessages
	return p, nil
}

func where(l *config.Listener) string {
	if s := l.Pos.String(); s != "" {
		return s
	}
	return "listener " + l.Addr()
}
