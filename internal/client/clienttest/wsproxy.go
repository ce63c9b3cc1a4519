package clienttest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocketProxy serves MQTT over WebSocket (subprotocol "mqtt", binary
// frames) on a loopback port and relays every connection to the MQTT TCP
// listener at tcpAddr. It lets WebSocket clients be tested against a broker
// built without WebSocket support. It returns host:port.
func WebSocketProxy(t testing.TB, tcpAddr string) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		tcp, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			return
		}
		defer tcp.Close()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := tcp.Read(buf)
				if n > 0 {
					if ws.WriteMessage(websocket.BinaryMessage, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					ws.WriteControl(websocket.CloseMessage,
						websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Time{})
					ws.Close()
					return
				}
			}
		}()
		for {
			mt, r, err := ws.NextReader()
			if err != nil {
				return
			}
			if mt != websocket.BinaryMessage {
				return
			}
			if _, err := io.Copy(tcp, r); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
