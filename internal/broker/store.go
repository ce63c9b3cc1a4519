package broker

import (
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// Store persists what must survive a broker restart: retained messages
// and durable sessions (client id, expiry, subscriptions, queued and
// inflight outgoing QoS 1/2 messages, and inbound QoS 2 packet ids awaiting
// PUBREL). Only durable sessions (3.1.1 clean session 0, v5 Session Expiry
// Interval > 0) are stored; clean sessions never reach the store.
//
// Call points and guarantees:
//   - A QoS 1/2 PUBLISH is handed to the store (SaveMessage for every
//     durable session it is queued for, SaveRetained if retained) before
//     the PUBACK/PUBREC is queued for the publisher; a QoS 2 packet id is
//     saved with SaveInbound before its PUBREC.
//   - Calls for one session are made in order and never concurrently
//     (they run under that session's lock); calls for different sessions
//     and for retained messages may be concurrent. An implementation must
//     be safe for concurrent use and should be fast: it sits on the
//     publish path.
//   - Message Seq values increase per session in delivery order; Load must
//     return them sorted by Seq.
//   - An error is logged; for a publish the publisher gets v5 reason 0x80
//     (3.1.1 has no failure ack, so it still gets its PUBACK).
//
// Load is called once by Broker.Start before any listener opens. The
// caller owns the store and closes it after Shutdown.
type Store interface {
	Load() (*StoreSnapshot, error)

	SaveRetained(m *StoredMessage) error
	DeleteRetained(topic string) error

	// SaveSession inserts or replaces the session's metadata (not its
	// subscriptions or messages, which have their own calls).
	SaveSession(s *StoredSession) error
	// DeleteSession removes the session with its subscriptions, messages
	// and inbound ids.
	DeleteSession(clientID string) error

	SaveSubscription(clientID string, s *StoredSubscription) error
	DeleteSubscription(clientID, filter string) error

	// SaveMessage inserts or replaces (same Seq) an outgoing message.
	SaveMessage(clientID string, m *StoredMessage) error
	DeleteMessage(clientID string, seq uint64) error

	SaveInbound(clientID string, packetID uint16) error
	DeleteInbound(clientID string, packetID uint16) error
}

// DurableStore is a Store whose Save*/Delete* calls only queue the write
// and return; the write reaches the disk later, in a group commit.
// AfterDurable runs fn (in call order, on the store's goroutine) once every
// call made before it is durable, with the commit's error. When
// Options.Store implements it, the broker sends each PUBACK/PUBREC from
// such a callback, so nothing is acknowledged before it is on disk.
// internal/store.Bolt implements it.
type DurableStore interface {
	Store
	AfterDurable(fn func(err error))
}

// StoreSnapshot is everything Load found.
type StoreSnapshot struct {
	Retained []*StoredMessage
	Sessions []*StoredSession
}

// StoredSession is a durable session. Subscriptions, Messages and Inbound
// are filled by Load only; SaveSession ignores them.
type StoredSession struct {
	ClientID string
	Version  mqtt.Version
	// ExpiryInterval is the session expiry in seconds; 0xFFFFFFFF = never.
	ExpiryInterval uint32
	// DisconnectedAt is when the client went away; zero while connected
	// (a session loaded while "connected" is treated as disconnected at
	// load time).
	DisconnectedAt time.Time
	// The client the session was last used by, as the Authenticator left
	// it (ClientInfo): a restored session is authorized as that client
	// (its ACL decides what is queued for it) until the next connection
	// with its client id.
	Username       string
	HasUsername    bool
	Listener       string // ListenerConfig.Name
	CertCommonName string
	MountPoint     string // the listener's mount point when the session was saved
	// LastPacketID is the last packet identifier the broker used for a
	// message to this session (mosquitto's last_mid): numbering goes on
	// from it after a restart. 0 = none yet. Saved with the session's
	// metadata (connect, disconnect), so after a crash it may be behind:
	// the identifiers of the stored inflight messages are taken into
	// account too.
	LastPacketID uint16

	Subscriptions []*StoredSubscription
	Messages      []*StoredMessage // sorted by Seq
	Inbound       []uint16         // QoS 2 packet ids awaiting PUBREL
}

// StoredSubscription is one subscription of a durable session.
type StoredSubscription struct {
	Filter            string // as subscribed, including any $share/group/ prefix
	QoS               mqtt.QoS
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // subscription identifier, 0 = none
}

// MessageState is where an outgoing QoS 1/2 message is in its flow.
type MessageState byte

const (
	StateQueued   MessageState = 0 // not sent yet (PacketID 0)
	StateSent     MessageState = 1 // PUBLISH sent, waiting for PUBACK/PUBREC
	StateReleased MessageState = 2 // QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP
)

// StoredMessage is a retained message or a message queued or inflight for
// a session.
type StoredMessage struct {
	Seq      uint64 // per-session order; 0 for retained messages
	PacketID uint16 // 0 while queued
	State    MessageState
	QoS      mqtt.QoS // delivery QoS (session) or published QoS (retained)
	Retain   bool
	Dup      bool // will go out with DUP (it was sent before)
	SubIDs   []uint32
	Topic    string
	Payload  []byte
	// Props are the forwarded application properties (payload format,
	// content type, response topic, correlation data, user properties).
	// The expiry is in Expiry, not in Props.
	Props  mqtt.Properties
	Expiry time.Time // zero = never expires
	// Publisher is the client id of the publisher ("" for the broker).
	Publisher string
	// Source is the rest of the publisher's identity, kept with retained
	// messages (nil otherwise, or when unknown): check_retain_source asks
	// the Authorizer, also after a restart, whether it may still publish
	// to the topic (mosquitto saves source_id and source_username).
	Source *StoredSource
}

// StoredSource is what the Authorizer may look at of a publisher besides
// its client id (ClientInfo without password and address).
type StoredSource struct {
	Username       string
	HasUsername    bool
	Listener       string
	CertCommonName string
	MountPoint     string
	Version        mqtt.Version
}

// nopStore is used when Options.Store is nil.
type nopStore struct{}

func (nopStore) Load() (*StoreSnapshot, error)                      { return &StoreSnapshot{}, nil }
func (nopStore) SaveRetained(*StoredMessage) error                  { return nil }
func (nopStore) DeleteRetained(string) error                        { return nil }
func (nopStore) SaveSession(*StoredSession) error                   { return nil }
func (nopStore) DeleteSession(string) error                         { return nil }
func (nopStore) SaveSubscription(string, *StoredSubscription) error { return nil }
func (nopStore) DeleteSubscription(string, string) error            { return nil }
func (nopStore) SaveMessage(string, *StoredMessage) error           { return nil }
func (nopStore) DeleteMessage(string, uint64) error                 { return nil }
func (nopStore) SaveInbound(string, uint16) error                   { return nil }
func (nopStore) DeleteInbound(string, uint16) error                 { return nil }
