package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Format writes c in mosquitto.conf syntax: every setting explicitly
// (allow_anonymous included, so the meaning does not depend on
// local-only mode), listeners as "listener PORT [ADDRESS]" lines each
// followed by its options and a comment with its URL. Parse reads the
// output back to an equivalent configuration, except that the implicit
// listener of local-only mode becomes an ordinary listener on 127.0.0.1.
// Options mqbroker accepts but ignores (user) are left out.
func (c *Config) Format(w io.Writer) error {
	f := &formatter{}
	f.section("Security")
	if c.PerListenerSettings {
		f.line("per_listener_settings true")
	} else {
		f.security(c.Security)
	}

	f.section("Listeners")
	for i, l := range c.Listeners {
		if i > 0 {
			f.blank()
		}
		f.listener(l)
		if c.PerListenerSettings {
			f.security(c.SecurityFor(l))
		}
	}

	f.section("Persistence")
	f.line("persistence %t", c.Persistence)
	if c.PersistenceLocation != "" {
		f.line("persistence_location %s", c.PersistenceLocation)
	}
	f.line("persistence_file %s", c.PersistenceFile)
	f.line("autosave_interval %d", int64(c.AutosaveInterval/time.Second))
	if c.PersistentClientExpiration > 0 {
		f.line("persistent_client_expiration %s", formatExpiration(c.PersistentClientExpiration))
	}

	f.section("Limits")
	f.line("global_max_clients %d", c.GlobalMaxClients)
	f.line("global_max_connections %d", c.GlobalMaxConnections)
	f.line("max_keepalive %d", c.MaxKeepalive)
	if c.MaxPacketSize > 0 {
		f.line("max_packet_size %d", c.MaxPacketSize)
	} else {
		f.line("# max_packet_size not set: packets up to the protocol's %d bytes", maxPacket)
	}
	f.line("message_size_limit %d", c.MessageSizeLimit)
	f.line("topic_hierarchy_limit %d", c.TopicHierarchyLimit)
	f.line("max_topic_length %d", c.MaxTopicLength)
	f.line("max_inflight_messages %d", c.MaxInflightMessages)
	f.line("max_queued_messages %d", c.MaxQueuedMessages)
	f.line("max_queued_bytes %d", c.MaxQueuedBytes)
	f.line("max_inflight_bytes %d", c.MaxInflightBytes)
	f.line("check_retain_source %t", c.CheckRetainSource)
	f.line("upgrade_outgoing_qos %t", c.UpgradeOutgoingQoS)
	f.line("retain_available %t", c.RetainAvailable)
	f.line("sys_interval %d", int64(c.SysInterval/time.Second))
	if c.HTTPAllowPublish {
		f.line("# mqbroker extension: the web view of protocol http listeners may publish")
		f.line("http_allow_publish true")
	}

	f.section("Logging")
	if len(c.LogDest) == 0 {
		f.line("log_dest none")
	}
	for _, d := range c.LogDest {
		if d.Kind == "file" {
			f.line("log_dest file %s", d.Path)
		} else {
			f.line("log_dest %s", d.Kind)
		}
	}
	switch c.LogTypes {
	case LogNone:
		f.line("log_type none")
	case LogAll:
		f.line("log_type all")
	default:
		for _, n := range strings.Split(c.LogTypes.String(), ",") {
			f.line("log_type %s", n)
		}
	}
	f.line("log_timestamp %t", c.LogTimestamp)
	f.line("connection_messages %t", c.ConnectionMessages)
	f.line("set_tcp_nodelay %t", c.SetTCPNoDelay)
	if c.PIDFile != "" {
		f.line("pid_file %s", c.PIDFile)
	}

	if len(c.Bridges) > 0 {
		f.section("Bridges")
		for i, b := range c.Bridges {
			if i > 0 {
				f.blank()
			}
			f.bridge(b)
		}
	}
	_, err := io.WriteString(w, f.b.String())
	return err
}

type formatter struct {
	b strings.Builder
}

func (f *formatter) line(format string, v ...any) {
	fmt.Fprintf(&f.b, format, v...)
	f.b.WriteByte('\n')
}

func (f *formatter) blank() { f.b.WriteByte('\n') }

func (f *formatter) section(name string) {
	if f.b.Len() > 0 {
		f.blank()
	}
	f.line("# %s", name)
}

func (f *formatter) security(s Security) {
	f.line("allow_anonymous %t", s.AllowAnonymous)
	if s.PasswordFile != "" {
		f.line("password_file %s", s.PasswordFile)
	}
	if s.ACLFile != "" {
		f.line("acl_file %s", s.ACLFile)
	}
	f.line("allow_zero_length_clientid %t", s.AllowZeroLengthClientID)
	if s.AutoIDPrefix != "" {
		f.line("auto_id_prefix %s", s.AutoIDPrefix)
	}
}

func (f *formatter) listener(l *Listener) {
	f.line("# %s", l.URL())
	switch {
	case l.Unix != "":
		f.line("listener 0 %s", l.Unix)
	case l.Bind != "":
		f.line("listener %d %s", l.Port, l.Bind)
	default:
		f.line("listener %d", l.Port)
	}
	if l.Protocol == ProtocolHTTP {
		f.line("# mqbroker extension: web view, /metrics, /healthz, /readyz")
	}
	if l.Protocol != ProtocolMQTT {
		f.line("protocol %s", l.Protocol)
	}
	if l.WebsocketsPath != "" {
		f.line("websockets_path %s", l.WebsocketsPath)
	}
	for _, o := range l.WebsocketsOrigins {
		f.line("websockets_origin %s", o)
	}
	for _, o := range []struct{ name, v string }{
		{"certfile", l.CertFile}, {"keyfile", l.KeyFile}, {"cafile", l.CAFile}, {"capath", l.CAPath}, {"crlfile", l.CRLFile},
	} {
		if o.v != "" {
			f.line("%s %s", o.name, o.v)
		}
	}
	if l.RequireCertificate {
		f.line("require_certificate true")
	}
	if l.UseIdentityAsUsername {
		f.line("use_identity_as_username true")
	}
	if l.UseUsernameAsClientID {
		f.line("use_username_as_clientid true")
	}
	if l.TLSVersion != "" {
		f.line("tls_version %s", l.TLSVersion)
	}
	f.line("max_connections %d", l.MaxConnections)
	f.line("max_qos %d", l.MaxQoS)
	f.line("max_topic_alias %d", l.MaxTopicAlias)
	if l.MountPoint != "" {
		f.line("mount_point %s", l.MountPoint)
	}
	if l.ProxyProtocol != 0 {
		f.line("enable_proxy_protocol %d", l.ProxyProtocol)
	}
	if l.ProxyV2RequireTLS {
		f.line("proxy_protocol_v2_require_tls true")
	}
	if l.AcceptProtocolVersions != nil {
		vs := make([]string, len(l.AcceptProtocolVersions))
		for i, v := range l.AcceptProtocolVersions {
			vs[i] = strconv.Itoa(v)
		}
		f.line("accept_protocol_versions %s", strings.Join(vs, ","))
	}
}

// bridge writes a "connection" section; it comes last because every
// option after "connection" belongs to the bridge.
func (f *formatter) bridge(b *Bridge) {
	f.line("connection %s", b.Name)
	addrs := make([]string, len(b.Addresses))
	for i, a := range b.Addresses {
		addrs[i] = a.String()
	}
	if len(addrs) == 1 {
		f.line("address %s", addrs[0])
	} else {
		f.line("addresses %s", strings.Join(addrs, " "))
	}
	quote := func(s string) string {
		if s == "" {
			return `""`
		}
		return s
	}
	for _, t := range b.Topics {
		if t.LocalPrefix != "" || t.RemotePrefix != "" {
			f.line("topic %s %s %d %s %s", quote(t.Pattern), t.Direction, t.QoS, quote(t.LocalPrefix), quote(t.RemotePrefix))
		} else {
			f.line("topic %s %s %d", quote(t.Pattern), t.Direction, t.QoS)
		}
	}
	f.line("bridge_protocol_version %s", b.ProtocolVersion)
	f.line("cleansession %t", b.CleanSession)
	if b.RemoteClientID != "" {
		f.line("remote_clientid %s", b.RemoteClientID)
	} else {
		f.line("# remote_clientid defaults to HOSTNAME.%s (here %s)", b.Name, b.ClientID())
	}
	if b.RemoteUsername != "" {
		f.line("remote_username %s", b.RemoteUsername)
	}
	if b.HasRemotePassword {
		f.line("remote_password %s", b.RemotePassword)
	}
	f.line("keepalive_interval %d", b.KeepaliveInterval)
	if b.RestartCap > 0 {
		f.line("restart_timeout %d %d", int64(b.RestartBase/time.Second), int64(b.RestartCap/time.Second))
	} else {
		f.line("restart_timeout %d", int64(b.RestartBase/time.Second))
	}
	f.line("try_private %t", b.TryPrivate)
	f.line("notifications %t", b.Notifications)
	if b.NotificationTopic != "" {
		f.line("notification_topic %s", b.NotificationTopic)
	}
	f.line("notifications_local_only %t", b.NotificationsLocalOnly)
	f.line("bridge_outgoing_retain %t", b.OutgoingRetain)
	f.line("bridge_attempt_unsubscribe %t", b.AttemptUnsubscribe)
	if b.LocalCleanSessionSet {
		f.line("local_cleansession %t", b.LocalCleanSession)
	}
	for _, o := range []struct{ name, v string }{
		{"bridge_cafile", b.CAFile}, {"bridge_capath", b.CAPath}, {"bridge_certfile", b.CertFile},
		{"bridge_keyfile", b.KeyFile}, {"bridge_tls_version", b.TLSVersion},
	} {
		if o.v != "" {
			f.line("%s %s", o.name, o.v)
		}
	}
	if b.Insecure {
		f.line("bridge_insecure true")
	}
	f.line("start_type %s", b.StartType)
	if b.StartType == "lazy" {
		f.line("threshold %d", b.Threshold)
		f.line("idle_timeout %d", b.IdleTimeout)
	}
	if len(b.Addresses) > 1 {
		f.line("round_robin %t", b.RoundRobin)
	}
	if b.LocalClientID != "" {
		f.line("local_clientid %s", b.LocalClientID)
	}
	if b.LocalUsername != "" {
		f.line("local_username %s", b.LocalUsername)
	}
	if b.HasLocalPassword {
		f.line("local_password %s", b.LocalPassword)
	}
}

// formatExpiration writes a persistent_client_expiration value in the
// largest unit that divides it (Parse only produces whole hours).
func formatExpiration(d time.Duration) string {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"y", 365 * 24 * time.Hour}, {"m", 30 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.suffix)
		}
	}
	return fmt.Sprintf("%dh", max(d/time.Hour, 1))
}
