package brokercmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/mqkit/mqkit/internal/bridge"
	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/config"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// bridgeListener names the in-process connections of bridges. The guard
// lets them in without credentials or ACL checks, as mosquitto does for
// its bridges' local side; no network listener has this name.
const bridgeListener = "bridge"

// bridgeOptions turns the configuration's bridges into bridge options
// (without LocalDial and Logger, set at start). TLS files are loaded
// here, so --test-config reports their errors.
func bridgeOptions(cfg *config.Config) ([]bridge.Options, error) {
	var out []bridge.Options
	for _, cb := range cfg.Bridges {
		o := bridge.Options{
			Name: cb.Name, CleanSession: cb.CleanSession, ClientID: cb.ClientID(),
			Username: cb.RemoteUsername, HasUsername: cb.RemoteUsername != "",
			Password: []byte(cb.RemotePassword), HasPassword: cb.HasRemotePassword,
			KeepAlive: uint16(cb.KeepaliveInterval), TryPrivate: cb.TryPrivate,
			RestartBase: cb.RestartBase, RestartCap: cb.RestartCap,
			Notifications: cb.Notifications, NotificationTopic: cb.StateTopic(),
			NotificationsLocalOnly: cb.NotificationsLocalOnly, OutgoingRetain: cb.OutgoingRetain,
			NoAttemptUnsubscribe: !cb.AttemptUnsubscribe,
			MaxInflight:          int(cfg.MaxInflightMessages),
		}
		if cfg.MaxInflightMessages == 0 {
			o.MaxInflight = 1024 // max_inflight_messages 0 = unlimited; keep a generous window
		}
		if cb.LocalCleanSessionSet {
			lc := cb.LocalCleanSession
			o.LocalCleanSession = &lc
		}
		switch cb.ProtocolVersion {
		case "mqttv31":
			o.Version = mqtt.V31
		case "mqttv50":
			o.Version = mqtt.V5
		default:
			o.Version = mqtt.V311
		}
		for _, t := range cb.Topics {
			o.Topics = append(o.Topics, bridge.Topic{Pattern: t.Pattern, In: t.In(), Out: t.Out(),
				QoS: mqtt.QoS(t.QoS), LocalPrefix: t.LocalPrefix, RemotePrefix: t.RemotePrefix})
		}
		for _, a := range cb.Addresses {
			ep := client.Endpoint{Scheme: "mqtt", Host: a.Host, Port: a.Port}
			if cb.TLS() {
				tc, err := client.TLSOptions{CAFile: cb.CAFile, CAPath: cb.CAPath, CertFile: cb.CertFile,
					KeyFile: cb.KeyFile, Insecure: cb.Insecure, Version: cb.TLSVersion, ServerName: a.Host}.Config()
				if err != nil {
					return nil, fmt.Errorf("%s: bridge %s: %w", cb.Pos, cb.Name, err)
				}
				ep.Scheme, ep.TLS = "mqtts", tc
			}
			o.Addresses = append(o.Addresses, ep)
		}
		out = append(out, o)
	}
	return out, nil
}

// startBridges runs the plan's bridges against b until ctx is done; the
// returned function waits for them to stop.
func startBridges(ctx context.Context, b *broker.Broker, opts []bridge.Options, logger *slog.Logger) (func(), []*bridge.Bridge, error) {
	var wg sync.WaitGroup
	var all []*bridge.Bridge
	for _, o := range opts {
		o.Logger = logger
		o.LocalDial = func(context.Context) (net.Conn, error) {
			nc, bc := net.Pipe()
			if err := b.ServeBridgeConn(bc, bridgeListener); err != nil {
				nc.Close()
				return nil, err
			}
			return nc, nil
		}
		br, err := bridge.New(o)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, br)
		wg.Add(1)
		go func() {
			defer wg.Done()
			br.Run(ctx)
		}()
	}
	return wg.Wait, all, nil
}

// bridgeSummary is the banner line of a bridge, e.g.
// "bridge east → 10.0.0.2:1883 (topics sensors/# out 1, # both 2 l/ r/)".
func bridgeSummary(cb *config.Bridge) string {
	addrs := make([]string, len(cb.Addresses))
	for i, a := range cb.Addresses {
		addrs[i] = a.String()
	}
	topics := make([]string, len(cb.Topics))
	for i, t := range cb.Topics {
		s := fmt.Sprintf("%s %s %d", quoteEmpty(t.Pattern), t.Direction, t.QoS)
		if t.LocalPrefix != "" || t.RemotePrefix != "" {
			s += " " + quoteEmpty(t.LocalPrefix) + " " + quoteEmpty(t.RemotePrefix)
		}
		topics[i] = s
	}
	tls := ""
	if cb.TLS() {
		tls = " TLS"
	}
	return fmt.Sprintf("bridge %s → %s%s (topics %s)", cb.Name, strings.Join(addrs, ", "), tls, strings.Join(topics, ", "))
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
