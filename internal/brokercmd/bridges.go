package brokercmd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

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

// bridgeConnectTimeout bounds each remote address's answer (TCP, TLS and
// CONNACK), so a silent node of a cluster delays failing over to the
// next address by at most this much.
const bridgeConnectTimeout = 10 * time.Second

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
			RoundRobin:           cb.RoundRobin,
			Threshold:            cb.Threshold,
			IdleTimeout:          time.Duration(cb.IdleTimeout) * time.Second,
			LocalClientID:        cb.LocalID(),
			LocalUsername:        cb.LocalUsername, HasLocalUsername: cb.LocalUsername != "",
			LocalPassword: []byte(cb.LocalPassword), HasLocalPassword: cb.HasLocalPassword,
			ConnectTimeout: bridgeConnectTimeout,
		}
		switch cb.StartType {
		case "lazy":
			o.Start = bridge.Lazy
		case "once":
			o.Start = bridge.Once
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
		if cb.TLS() {
			if err := checkBridgeFiles(cb); err != nil {
				return nil, err
			}
		}
		for _, a := range cb.Addresses {
			ep := client.Endpoint{Scheme: "mqtt", Host: a.Host, Port: a.Port}
			if cb.TLS() {
				tc, err := client.TLSOptions{CAFile: cb.CAFile, CAPath: cb.CAPath, CertFile: cb.CertFile,
					KeyFile: cb.KeyFile, Insecure: cb.Insecure, Version: cb.TLSVersion, ServerName: a.Host}.Config()
				if err != nil {
					return nil, fmt.Errorf("%s: bridge %s: %w", cb.OptionPos("bridge_cafile"), cb.Name, err)
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
	var mode []string
	if len(cb.Addresses) > 1 && cb.RoundRobin {
		mode = append(mode, "round robin")
	}
	if cb.StartType != "automatic" && cb.StartType != "" {
		mode = append(mode, "start_type "+cb.StartType)
	}
	extra := ""
	if len(mode) > 0 {
		extra = " [" + strings.Join(mode, ", ") + "]"
	}
	return fmt.Sprintf("bridge %s → %s%s (topics %s)%s", cb.Name, strings.Join(addrs, ", "), tls, strings.Join(topics, ", "), extra)
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
