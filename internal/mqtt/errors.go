package mqtt

import (
	"errors"
	"fmt"
)

// Error is a protocol error that carries the reason code a v5 peer must be
// told (in CONNACK or DISCONNECT). Wrap it with fmt.Errorf("...: %w", ErrX)
// to add context; CodeOf still finds the code.
type Error struct {
	Code ReasonCode
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Sentinel errors. Each names the reason code the spec requires.
var (
	ErrMalformedPacket      = &Error{MalformedPacket, "malformed packet"}
	ErrMalformedVarInt      = &Error{MalformedPacket, "malformed variable byte integer"}
	ErrMalformedUTF8        = &Error{MalformedPacket, "malformed UTF-8 string"}
	ErrShortBuffer          = &Error{MalformedPacket, "remaining length exceeds packet data"}
	ErrTrailingBytes        = &Error{MalformedPacket, "unexpected bytes after packet"}
	ErrReservedFlags        = &Error{MalformedPacket, "reserved fixed header flags set"}
	ErrInvalidQoS           = &Error{MalformedPacket, "invalid QoS"}
	ErrInvalidPacketType    = &Error{MalformedPacket, "invalid packet type"}
	ErrProtocolError        = &Error{ProtocolError, "protocol error"}
	ErrInvalidProperty      = &Error{ProtocolError, "property not allowed in this packet"}
	ErrDuplicateProperty    = &Error{ProtocolError, "duplicate property"}
	ErrZeroPacketID         = &Error{MalformedPacket, "packet identifier is zero"}
	ErrNoTopicFilters       = &Error{ProtocolError, "no topic filters"}
	ErrInvalidTopicName     = &Error{TopicNameInvalid, "invalid topic name"}
	ErrInvalidTopicFilter   = &Error{TopicFilterInvalid, "invalid topic filter"}
	ErrUnsupportedVersion   = &Error{UnsupportedProtocolVersion, "unsupported protocol version"}
	ErrInvalidProtocolName  = &Error{UnsupportedProtocolVersion, "invalid protocol name"}
	ErrPacketTooLarge       = &Error{PacketTooLarge, "packet too large"}
	ErrInvalidClientID      = &Error{ClientIdentifierNotValid, "client identifier not valid"}
	ErrTopicAliasInvalid    = &Error{TopicAliasInvalid, "topic alias invalid"}
	ErrReceiveMaxExceeded   = &Error{ReceiveMaximumExceeded, "receive maximum exceeded"}
	ErrPayloadFormatInvalid = &Error{PayloadFormatInvalid, "payload format invalid"}
)

// Errorf wraps sentinel with a formatted context message. The result
// satisfies errors.Is(err, sentinel) and CodeOf(err) == sentinel.Code.
func Errorf(sentinel *Error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
}

// CodeOf returns the reason code carried by err, or UnspecifiedError.
func CodeOf(err error) ReasonCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return UnspecifiedError
}
