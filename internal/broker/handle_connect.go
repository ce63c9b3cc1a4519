package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// handleConnect validates CONNECT, authenticates, attaches the session and
// queues CONNACK. A refusal queues a CONNACK with the failure code (mapped
// to the 3.1.1 return code for older clients) and closes.
func (c *conn) handleConnect(p *mqtt.Connect) error {
	b := c.b
	cfg := b.cfg
	c.version = p.Version
	c.bridge = p.Bridge
	c.setInputVersion(p.Version)
	// Strings decoded from CONNECT share the packet's memory, password
	// included: what outlives the packet (client id, user name, will) is
	// copied.
	// The ClientInfo, made with the connection (newConn: the address),
	// is filled in here (clientID reads it); the Authenticator sees it
	// before the connection is attached.
	ci := c.info
	cn := c.certCommonName()
	ci.ClientID, ci.CertCommonName, ci.Version = strings.Clone(p.ClientID), cn, p.Version
	v5 := p.Version == mqtt.V5

	c.sendWindow = int32(cfg.maxInflight)
	if v5 {
		if p.Props.Has(mqtt.PropReceiveMaximum) && int32(p.Props.ReceiveMaximum) < c.sendWindow {
			c.sendWindow = int32(p.Props.ReceiveMaximum) // [MQTT-3.3.4-9]
		}
		if p.Props.Has(mqtt.PropMaximumPacketSize) {
			c.maxOut = p.Props.MaximumPacketSize
		}
		if p.Props.Has(mqtt.PropTopicAliasMaximum) && p.Props.TopicAliasMaximum > 0 {
			c.aliasMaxOut = p.Props.TopicAliasMaximum
			c.w.aliases = &outAliases{} // before the connection is reachable
		}
		if p.Props.Has(mqtt.PropRequestProblemInfo) {
			c.problemInfo = p.Props.RequestProblemInfo != 0
		}
	}

	refuse := func(code mqtt.ReasonCode, why string) error {
		ack := &mqtt.Connack{Code: code}
		if v5 && c.problemInfo {
			ack.Props.SetReasonString(why)
		}
		c.logc("Client %s from %s refused: %s.", c.clientID(), c.remote(), why)
		b.metrics.refused[code].Add(1)
		if b.observe.watched.Load() != nil {
			c.trace(PacketEvent{Packet: "CONNECT", Detail: connectDetail(p, nil)})
			c.trace(PacketEvent{Out: true, Packet: "CONNACK", Code: byte(code), Detail: why})
		}
		if c.connackFits(ack) { // else closed without an answer [MQTT-3.1.2-24]
			c.enqueuePacket(ack, c)
		}
		return &closeError{reason: CloseConnectRefused}
	}

	// The listener's accept_protocol_versions: an MQTT version it does not
	// accept is refused as an unacceptable protocol level, checked first
	// as mosquitto does [MQTT-3.1.2-2].
	if !c.lis.acceptsVersion(p.Version) {
		return refuse(mqtt.UnsupportedProtocolVersion, fmt.Sprintf("protocol version %d not accepted on this listener", p.Version))
	}

	// Client identifier rules [MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.1.3-8].
	var assigned bool
	if p.ClientID == "" {
		switch {
		case p.Version == mqtt.V31:
			return refuse(mqtt.ClientIdentifierNotValid, "empty client id (MQTT 3.1)")
		case p.Version == mqtt.V311 && !p.CleanStart:
			return refuse(mqtt.ClientIdentifierNotValid, "empty client id without clean session")
		case cfg.DenyZeroLengthClientID || c.lis.cfg.DenyZeroLengthClientID:
			// 3.1.1: return code 2 [MQTT-3.1.3-9]; v5: 0x85 [MQTT-3.1.3-8].
			return refuse(mqtt.ClientIdentifierNotValid, "empty client id not allowed")
		}
		prefix := cfg.AutoIDPrefix
		if lp := c.lis.cfg.AutoIDPrefix; lp != "" {
			prefix = lp
		}
		ci.ClientID = prefix + newUUID()
		assigned = true
	}

	// Enhanced authentication: no method is supported, so any
	// Authentication Method is refused with 0x8C (MQTT 5.0 section 4.12).
	if v5 && p.Props.Has(mqtt.PropAuthMethod) {
		return refuse(mqtt.BadAuthenticationMethod, "authentication method not supported")
	}

	will := p.Will
	if w := will; w != nil {
		if cfg.topicOverLimit(w.Topic) {
			// As mosquitto: a protocol error, closed without CONNACK.
			c.logc("Client %s from %s refused: will topic of %d bytes beyond the topic limits.", c.clientID(), c.remote(), len(w.Topic))
			return &closeError{reason: CloseProtocolError, err: errors.New("will topic beyond the topic limits")}
		}
		if lim := cfg.MessageSizeLimit; lim > 0 && uint32(len(w.Payload)) > lim {
			// message_size_limit applies to the will too. mosquitto 2.0.11
			// refuses with 0x95 (v5) or return code 5 (3.1/3.1.1, which
			// has no "too large"; the closest it has is "not authorized").
			if v5 {
				return refuse(mqtt.PacketTooLarge, "will payload above message_size_limit")
			}
			return refuse(mqtt.NotAuthorized, "will payload above message_size_limit")
		}
		if w.QoS > cfg.maxQoS {
			return refuse(mqtt.QoSNotSupported, "will QoS not supported") // [MQTT-3.2.2-12]
		}
		if w.Retain && cfg.DisableRetain {
			return refuse(mqtt.RetainNotSupported, "retain not supported") // [MQTT-3.2.2-13]
		}
		if c.mount() != "" {
			// The will is published under the mount point (mount.go).
			mw, err := c.mountWill(w)
			if err != nil {
				return refuse(mqtt.TopicNameInvalid, err.Error())
			}
			will = mw
		}
		will = cloneWill(will)
	}

	ka := p.KeepAlive
	var serverKA bool
	if max := cfg.MaxKeepAlive; max > 0 && (ka > max || ka == 0) {
		if !v5 {
			// As mosquitto 2.0.12+: 3.1/3.1.1 cannot be told a keep alive.
			return refuse(mqtt.ClientIdentifierNotValid, fmt.Sprintf("keep alive %d above max_keepalive %d", ka, max))
		}
		ka, serverKA = max, true // [MQTT-3.2.2-21] the client MUST use the server's value
	}
	c.keepAlive = ka

	ci.Username, ci.HasUsername, ci.HasPassword = strings.Clone(p.Username), p.HasUsername, p.HasPassword
	if c.lis != nil {
		ci.where = c.lis.where
	}
	if cfg.Authenticator != nil {
		var pw []byte // the packet's: valid during the call only
		if p.HasPassword {
			pw = p.Password
		}
		if code := cfg.Authenticator.Authenticate(ci, pw); code != mqtt.Success {
			if !code.IsError() {
				code = mqtt.NotAuthorized
			}
			return refuse(code, code.String())
		}
	}
	if c.lis.cfg.UseUsernameAsClientID {
		// mosquitto's use_username_as_clientid: the user name (after
		// authentication, which may have set it from the certificate) is
		// the client id, so a user can only ever take over their own
		// session; a client without one is not authorised, even with
		// anonymous access allowed (as mosquitto 2.0.11). A v5 client whose
		// id was assigned learns the user name as its Assigned Client
		// Identifier (the empty id rules above still apply first).
		if !ci.HasUsername || ci.Username == "" {
			return refuse(mqtt.NotAuthorized, "use_username_as_clientid: no user name")
		}
		ci.ClientID = ci.Username
	}

	// Session expiry: v5 from the property (capped), 3.1/3.1.1 from the
	// clean session flag (mosquitto's persistent_client_expiration).
	var expiry uint32
	var capped bool
	if v5 {
		expiry = p.Props.SessionExpiry
		if m := cfg.MaxSessionExpiry; m > 0 && expiry > m {
			expiry, capped = m, true
		}
	} else if !p.CleanStart {
		expiry = expiryNever
		if d := cfg.PersistentClientExpiration; d > 0 {
			expiry = uint32(min(d/time.Second, expiryNever-1))
		}
	}
	if will != nil {
		c.will.Store(will)
	}

	if b.observe.watched.Load() != nil {
		c.trace(PacketEvent{Packet: "CONNECT", Detail: connectDetail(p, will)})
	}
	ack := &mqtt.Connack{}
	if v5 {
		pr := &ack.Props
		if assigned {
			pr.SetAssignedClientID(c.clientID()) // [MQTT-3.2.2-16]
		}
		if serverKA {
			pr.SetServerKeepAlive(ka)
		}
		if capped {
			pr.SetSessionExpiry(expiry)
		}
		pr.SetReceiveMaximum(cfg.recvMax)
		if cfg.maxQoS < 2 {
			pr.SetMaximumQoS(byte(cfg.maxQoS)) // [MQTT-3.2.2-9]
		}
		pr.SetRetainAvailable(byte(b2i(!cfg.DisableRetain)))
		if cfg.MaxPacketSize > 0 {
			pr.SetMaximumPacketSize(cfg.MaxPacketSize)
		}
		if cfg.topicAliasMax > 0 {
			pr.SetTopicAliasMaximum(cfg.topicAliasMax)
		}
		pr.SetWildcardSubAvailable(1)
		pr.SetSubIDAvailable(1)
		pr.SetSharedSubAvailable(1)
	}
	if !c.connackFits(ack) {
		// Not even the smallest CONNACK we can send fits the client's
		// Maximum Packet Size: nothing may be sent [MQTT-3.1.2-24], so the
		// connection is closed without one (as mosquitto does).
		c.logc("Client %s from %s refused: CONNACK of %d bytes above its Maximum Packet Size %d.",
			c.clientID(), c.remote(), mqtt.Size(ack, mqtt.V5), c.maxOut)
		return &closeError{reason: CloseConnectRefused}
	}
	if err := b.attach(c, p.CleanStart, expiry, ack); err != nil {
		if errors.Is(err, errTooManyClients) {
			// global_max_clients: as mosquitto, v5 clients get CONNACK 0x89
			// Server Busy, 3.1/3.1.1 clients no CONNACK.
			if v5 {
				return refuse(mqtt.ServerBusy, "global_max_clients reached")
			}
			c.logc("Client %s from %s refused: %s.", c.clientID(), c.remote(), "global_max_clients reached")
			b.metrics.refused[mqtt.ServerBusy].Add(1)
			return &closeError{reason: CloseConnectRefused}
		}
		return err
	}
	if cfg.ConnectionMessages {
		user := ""
		if p.HasUsername {
			user = fmt.Sprintf(", u'%s'", p.Username)
		}
		kind := "client"
		if p.Bridge {
			kind = "bridge"
		}
		c.logc("New %s connected from %s as %s (p%d, c%d, k%d%s).", kind, c.remote(), c.clientID(),
			protoNumber(p.Version), b2i(p.CleanStart), ka, user)
		if c.b.cfg.Verbose {
			if w := will; w != nil {
				c.logv("Will message specified (%d bytes) (r%d, q%d).", len(w.Payload), b2i(w.Retain), w.QoS)
				c.logv("\t%s", w.Topic)
			} else {
				c.logv("No will message specified.")
			}
		}
	}
	return nil
}

// protoNumber is mosquitto's protocol number in log lines: 1 for 3.1,
// 2 for 3.1.1, 5 for 5.0.
func protoNumber(v mqtt.Version) int {
	switch v {
	case mqtt.V31:
		return 1
	case mqtt.V311:
		return 2
	}
	return int(v)
}

// newUUID returns a random (version 4) UUID in upper case, the form of
// mosquitto's assigned client ids.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// capExpiry applies MaxSessionExpiry to a requested expiry.
func (b *Broker) capExpiry(e uint32) uint32 {
	if m := b.cfg.MaxSessionExpiry; m > 0 && e > m {
		return m
	}
	return e
}

// connectDetail describes a CONNECT for a packet trace (no password).
func connectDetail(p *mqtt.Connect, will *mqtt.Will) string {
	d := fmt.Sprintf("MQTT level %d, clean %d, keep alive %d", protoNumberLevel(p.Version), b2i(p.CleanStart), p.KeepAlive)
	if p.HasUsername {
		d += ", user " + p.Username
	}
	if p.Version == mqtt.V5 && p.Props.Has(mqtt.PropSessionExpiry) {
		d += fmt.Sprintf(", session expiry %d", p.Props.SessionExpiry)
	}
	if will != nil {
		d += fmt.Sprintf(", will '%s' QoS %d retain %d", will.Topic, will.QoS, b2i(will.Retain))
		if will.Props.Has(mqtt.PropWillDelay) {
			d += fmt.Sprintf(" delay %ds", will.Props.WillDelay)
		}
	}
	return d
}

// protoNumberLevel is the protocol level byte of v (3, 4 or 5).
func protoNumberLevel(v mqtt.Version) int { return int(v) }
