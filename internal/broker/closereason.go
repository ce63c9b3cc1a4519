package broker

import "github.com/mqkit/mqkit/internal/mqtt"

// CloseReason records why a connection ended. Every connection records
// exactly one, the first one given to close.
type CloseReason int

const (
	CloseNone               CloseReason = iota
	CloseClientDisconnect               // DISCONNECT received (0x00 or other non-will code)
	CloseClientWill                     // v5 DISCONNECT 0x04: disconnect with will message
	CloseNetwork                        // EOF or I/O error on read
	CloseWriteError                     // I/O error on write
	CloseKeepAlive                      // nothing received within 1.5 × keep alive
	CloseConnectTimeout                 // no CONNECT within ConnectTimeout
	CloseProtocolError                  // malformed packet or protocol violation
	CloseConnectRefused                 // CONNACK with a failure code was sent
	CloseTakenOver                      // another connection took the session
	CloseShutdown                       // the broker is shutting down
	CloseSlowConsumer                   // outbound bytes cap or write timeout
	CloseTooManyConnections             // listener MaxConnections reached
	CloseSessionExpired                 // administrative end of the session
	CloseProxyHeader                    // bad PROXY header, or its TLS information refused
)

var closeNames = [...]string{
	CloseNone:               "none",
	CloseClientDisconnect:   "client disconnected",
	CloseClientWill:         "client disconnected with will",
	CloseNetwork:            "connection closed by peer",
	CloseWriteError:         "write error",
	CloseKeepAlive:          "keep alive timeout",
	CloseConnectTimeout:     "connect timeout",
	CloseProtocolError:      "protocol error",
	CloseConnectRefused:     "connection refused",
	CloseTakenOver:          "session taken over",
	CloseShutdown:           "server shutting down",
	CloseSlowConsumer:       "slow consumer",
	CloseTooManyConnections: "too many connections",
	CloseSessionExpired:     "session expired",
	CloseProxyHeader:        "PROXY header refused",
}

func (r CloseReason) String() string {
	if int(r) < len(closeNames) {
		return closeNames[r]
	}
	return "unknown"
}

// publishesWill reports whether a connection closed for r publishes its
// will: everything except a normal DISCONNECT [MQTT-3.1.2-8] (3.1.1:
// [MQTT-3.1.2-10]: the will is removed on receipt of DISCONNECT).
func (r CloseReason) publishesWill() bool {
	return r != CloseClientDisconnect && r != CloseConnectRefused && r != CloseNone
}

// disconnectCode is the v5 DISCONNECT reason code the server sends for r
// (0 = send nothing).
func (r CloseReason) disconnectCode() mqtt.ReasonCode {
	switch r {
	case CloseKeepAlive:
		return mqtt.KeepAliveTimeout
	case CloseTakenOver:
		return mqtt.SessionTakenOver
	case CloseShutdown:
		return mqtt.ServerShuttingDown
	case CloseSlowConsumer:
		return mqtt.QuotaExceeded
	case CloseSessionExpired:
		return mqtt.AdministrativeAction
	}
	return 0
}

// logLine is what mosquitto logs when a client goes away for r.
func (r CloseReason) logLine(id string) string {
	switch r {
	case CloseClientDisconnect, CloseClientWill:
		return "Client " + id + " disconnected."
	case CloseNetwork:
		return "Client " + id + " closed its connection."
	case CloseKeepAlive:
		return "Client " + id + " has exceeded timeout, disconnecting."
	case CloseProtocolError:
		return "Client " + id + " disconnected due to protocol error."
	case CloseTakenOver:
		return "Client " + id + " already connected, closing old connection."
	case CloseSlowConsumer:
		return "Client " + id + " disconnected: slow consumer."
	case CloseWriteError:
		return "Socket error on client " + id + ", disconnecting."
	case CloseShutdown:
		return "Client " + id + " disconnected: server shutting down."
	case CloseConnectRefused:
		return "Client " + id + " disconnected, not authorised."
	}
	return "Client " + id + " disconnected: " + r.String() + "."
}
