package client

import (
	"errors"
	"fmt"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// ErrClosed is returned by operations on a client whose connection has
// ended (after Disconnect or a network failure).
var ErrClosed = errors.New("connection closed")

// ConnackError reports a CONNACK that refused the connection.
type ConnackError struct {
	Version mqtt.Version
	// Code is the v5 reason code; for 3.1/3.1.1 it is the v5 code with the
	// same meaning as ReturnCode (mqtt.ConnackCodeFromV3).
	Code mqtt.ReasonCode
	// ReturnCode is the raw 3.1/3.1.1 return code (0 for v5).
	ReturnCode byte
	// ReasonString is the v5 Reason String property, if any.
	ReasonString string
}

// v3ReturnText is the 3.1.1 wording of each CONNACK return code
// (MQTT 3.1.1 table 3.1), as mosquitto prints it.
var v3ReturnText = [...]string{
	1: "Connection Refused: unacceptable protocol version",
	2: "Connection Refused: identifier rejected",
	3: "Connection Refused: broker unavailable",
	4: "Connection Refused: bad user name or password",
	5: "Connection Refused: not authorised",
}

func (e *ConnackError) Error() string {
	if e.Version != mqtt.V5 {
		if int(e.ReturnCode) < len(v3ReturnText) && e.ReturnCode != 0 {
			return v3ReturnText[e.ReturnCode] + "."
		}
		return fmt.Sprintf("Connection Refused: unknown reason (%d).", e.ReturnCode)
	}
	s := fmt.Sprintf("Connection Refused: %s (0x%02X)", e.Code, byte(e.Code))
	if e.ReasonString != "" {
		s += ": " + e.ReasonString
	}
	return s
}

// ExitCode is the process exit status mosquitto uses for this refusal: the
// 3.1.1 return code, or the v5 reason code.
func (e *ConnackError) ExitCode() int {
	if e.Version != mqtt.V5 {
		return int(e.ReturnCode)
	}
	return int(e.Code)
}

// DialError reports a failure to open the network connection (TCP connect
// or WebSocket upgrade), before any MQTT packet was exchanged.
type DialError struct {
	Addr string
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("dial %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// TLSError reports a failed TLS handshake or TLS configuration problem.
// Err is the underlying error (often an x509 error naming the failed check).
type TLSError struct {
	Err error
}

func (e *TLSError) Error() string { return "TLS: " + e.Err.Error() }
func (e *TLSError) Unwrap() error { return e.Err }

// TimeoutError reports an operation that did not finish in time.
type TimeoutError struct {
	Op string // e.g. "CONNACK", "PINGRESP", "SUBACK"
}

func (e *TimeoutError) Error() string { return "timed out waiting for " + e.Op }

// Timeout marks the error as a timeout (net.Error style).
func (e *TimeoutError) Timeout() bool { return true }

// AckError reports a v5 PUBACK, PUBREC or PUBCOMP carrying a failure reason
// code (0x80 or above) [MQTT-3.4.2.1, 3.5.2.1, 3.7.2.1].
type AckError struct {
	Kind         mqtt.PacketType
	PacketID     uint16
	Code         mqtt.ReasonCode
	ReasonString string
}

func (e *AckError) Error() string {
	s := fmt.Sprintf("%s for message %d: %s (0x%02X)", e.Kind, e.PacketID, e.Code, byte(e.Code))
	if e.ReasonString != "" {
		s += ": " + e.ReasonString
	}
	return s
}

// SubackError reports a subscription the server refused (SUBACK code 0x80
// or above).
type SubackError struct {
	Filter string
	Code   mqtt.ReasonCode
}

func (e *SubackError) Error() string {
	return fmt.Sprintf("subscription to %q refused: %s (0x%02X)", e.Filter, e.Code, byte(e.Code))
}

// ServerDisconnectError reports a DISCONNECT sent by the server (v5).
type ServerDisconnectError struct {
	Code         mqtt.ReasonCode
	ReasonString string
}

func (e *ServerDisconnectError) Error() string {
	s := fmt.Sprintf("disconnected by server: %s (0x%02X)", e.Code, byte(e.Code))
	if e.ReasonString != "" {
		s += ": " + e.ReasonString
	}
	return s
}

// ProtocolError reports a packet from the server that breaks the protocol
// (malformed, unexpected, or an invalid topic alias). Code is the v5 reason
// the client sent in its DISCONNECT.
type ProtocolError struct {
	Code mqtt.ReasonCode
	Err  error
}

func (e *ProtocolError) Error() string { return "protocol error from server: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

// ConnectionLostError reports a connection that ended without DISCONNECT.
type ConnectionLostError struct {
	Err error
}

func (e *ConnectionLostError) Error() string { return "connection lost: " + e.Err.Error() }
func (e *ConnectionLostError) Unwrap() error { return e.Err }
