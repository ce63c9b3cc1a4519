package client

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/mqkit/mqkit/internal/mqtt"
	"github.com/mqkit/mqkit/internal/wsconn"
)

// A text frame from the server ends the connection [MQTT-6.0.0-1]; packets
// split across binary frames are reassembled.
func TestWebSocketFrames(t *testing.T) {
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/custom" {
			http.NotFound(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil { // CONNECT
			return
		}
		ack, _ := mqtt.Append(nil, &mqtt.Connack{}, mqtt.V311)
		// CONNACK split over two frames.
		ws.WriteMessage(websocket.BinaryMessage, ack[:1])
		ws.WriteMessage(websocket.BinaryMessage, ack[1:])
		ws.WriteMessage(websocket.TextMessage, []byte("not mqtt"))
		ws.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	p, _ := strconv.Atoi(port)
	ep := Endpoint{Scheme: "ws", Host: host, Port: p, Path: "/custom"}
	c := testConnect(t, ep, mqtt.V311, nil)
	waitDone(t, c.Done(), "client end")
	if !errors.Is(c.Err(), wsconn.ErrNotBinary) {
		t.Errorf("Err = %v, want the text frame error", c.Err())
	}
	// A wrong path fails the upgrade with a DialError naming the status.
	ep.Path = "/wrong"
	_, err := Connect(ctxT(t), Options{Endpoint: ep})
	var de *DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "404") {
		t.Errorf("err = %v, want DialError with HTTP 404", err)
	}
}
