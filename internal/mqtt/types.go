package mqtt

import "fmt"

// Version is the protocol level byte of CONNECT.
type Version byte

const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1
	V5   Version = 5 // MQTT 5.0
)

func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return fmt.Sprintf("level %d", byte(v))
}

// PacketType is the 4-bit control packet type of the fixed header.
type PacketType byte

const (
	CONNECT     PacketType = 1
	CONNACK     PacketType = 2
	PUBLISH     PacketType = 3
	PUBACK      PacketType = 4
	PUBREC      PacketType = 5
	PUBREL      PacketType = 6
	PUBCOMP     PacketType = 7
	SUBSCRIBE   PacketType = 8
	SUBACK      PacketType = 9
	UNSUBSCRIBE PacketType = 10
	UNSUBACK    PacketType = 11
	PINGREQ     PacketType = 12
	PINGRESP    PacketType = 13
	DISCONNECT  PacketType = 14
	AUTH        PacketType = 15
)

var packetNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

func (t PacketType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return fmt.Sprintf("TYPE(%d)", byte(t))
}

// QoS is a quality of service level, 0, 1 or 2.
type QoS byte

// MaxRemainingLength is the largest remaining length a variable byte
// integer can encode (268,435,455).
const MaxRemainingLength = 268435455

// Packet is any MQTT control packet.
type Packet interface {
	Type() PacketType
}

// Connect is the CONNECT packet. ProtocolName is "MQTT" for 3.1.1/5.0 and
// "MQIsdp" for 3.1; the encoder fills it from Version when empty.
type Connect struct {
	ProtocolName string
	Version      Version
	// Bridge is mosquitto's try_private flag: a 3.1/3.1.1 bridge sends the
	// protocol level with bit 0x80 set (0x83, 0x84) so the server can
	// recognise it and avoid loops (not part of the MQTT specification).
	Bridge      bool
	CleanStart  bool // Clean Session in 3.1/3.1.1
	KeepAlive   uint16
	ClientID    string
	HasUsername bool
	Username    string
	HasPassword bool
	Password    []byte
	Will        *Will // nil when the Will Flag is 0
	Props       Properties
}

// Will is the will message carried by CONNECT.
type Will struct {
	Topic   string
	Payload []byte
	QoS     QoS
	Retain  bool
	Props   Properties // v5 will properties
}

// Connack is the CONNACK packet. Code holds the v5 reason code; for 3.1/3.1.1
// the encoder writes ConnackCodeV3(Code) and the decoder stores
// ConnackCodeFromV3(returnCode), so callers handle one set of codes.
// ReturnCodeV3 is the raw 3.1.1 byte as decoded (for printing/exit codes).
type Connack struct {
	SessionPresent bool
	Code           ReasonCode
	ReturnCodeV3   byte
	Props          Properties
}

// Publish is the PUBLISH packet. Topic may be empty when a v5 Topic Alias
// is set. Payload and Topic of a decoded packet share one allocation.
type Publish struct {
	Topic    string
	Payload  []byte
	QoS      QoS
	Retain   bool
	Dup      bool
	PacketID uint16
	Props    Properties
}

// Ack is PUBACK, PUBREC, PUBREL or PUBCOMP, which share one layout. Kind
// says which. For v3 the reason code and properties are absent on the wire.
type Ack struct {
	Kind     PacketType
	PacketID uint16
	Code     ReasonCode
	Props    Properties
}

// Subscription is one topic filter of SUBSCRIBE with its options.
type Subscription struct {
	Filter            string
	QoS               QoS
	NoLocal           bool // v5
	RetainAsPublished bool // v5
	RetainHandling    byte // v5: 0, 1 or 2
}

// Subscribe is the SUBSCRIBE packet.
type Subscribe struct {
	PacketID      uint16
	Subscriptions []Subscription
	Props         Properties
}

// Suback is the SUBACK packet; one code per filter (granted QoS or failure,
// 0x80 for 3.1.1 failure).
type Suback struct {
	PacketID uint16
	Codes    []ReasonCode
	Props    Properties
}

// Unsubscribe is the UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID uint16
	Filters  []string
	Props    Properties
}

// Unsuback is the UNSUBACK packet. Codes is empty on the wire for 3.1.1.
type Unsuback struct {
	PacketID uint16
	Codes    []ReasonCode
	Props    Properties
}

// Pingreq is PINGREQ.
type Pingreq struct{}

// Pingresp is PINGRESP.
type Pingresp struct{}

// Disconnect is DISCONNECT. Code and Props are v5 only.
type Disconnect struct {
	Code  ReasonCode
	Props Properties
}

// Auth is the v5 AUTH packet.
type Auth struct {
	Code  ReasonCode
	Props Properties
}

func (*Connect) Type() PacketType     { return CONNECT }
func (*Connack) Type() PacketType     { return CONNACK }
func (*Publish) Type() PacketType     { return PUBLISH }
func (a *Ack) Type() PacketType       { return a.Kind }
func (*Subscribe) Type() PacketType   { return SUBSCRIBE }
func (*Suback) Type() PacketType      { return SUBACK }
func (*Unsubscribe) Type() PacketType { return UNSUBSCRIBE }
func (*Unsuback) Type() PacketType    { return UNSUBACK }
func (*Pingreq) Type() PacketType     { return PINGREQ }
func (*Pingresp) Type() PacketType    { return PINGRESP }
func (*Disconnect) Type() PacketType  { return DISCONNECT }
func (*Auth) Type() PacketType        { return AUTH }
