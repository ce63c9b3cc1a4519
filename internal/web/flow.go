package web

import (
	"sync"
	"sync/atomic"

	"github.com/mqkit/mqkit/internal/broker"
)

// The flow view: the packets of one client, live. A browser that opens
// it watches the client id (broker.WatchClient); the broker then reports
// that client's packets, which go to every browser watching it. Events a
// slow browser cannot take are dropped (and counted), never waited for.

const (
	flowHistory = 500 // events kept per watched client
	flowBuffer  = 256 // events queued per browser
)

// flowEvent is a broker.PacketEvent as the browser gets it.
type flowEvent struct {
	Time     int64  `json:"t"` // Unix ms
	Out      bool   `json:"out"`
	Packet   string `json:"packet"`
	PacketID uint16 `json:"id,omitempty"`
	QoS      byte   `json:"qos"`
	Retain   bool   `json:"retain,omitempty"`
	Dup      bool   `json:"dup,omitempty"`
	Code     byte   `json:"code"`
	Topic    string `json:"topic,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

type flowWatcher struct {
	ch      chan flowEvent
	dropped atomic.Int64
}

type flowClient struct {
	watchers map[*flowWatcher]struct{}
	history  []flowEvent
	stop     func()
}

type flowHub struct {
	b       *broker.Broker
	mu      sync.Mutex
	clients map[string]*flowClient
}

func newFlowHub(b *broker.Broker) *flowHub {
	return &flowHub{b: b, clients: map[string]*flowClient{}}
}

// watch starts watching client id; the returned watcher gets the events
// kept so far, then the new ones, until cancel is called.
func (h *flowHub) watch(id string) (w *flowWatcher, history []flowEvent, cancel func()) {
	w = &flowWatcher{ch: make(chan flowEvent, flowBuffer)}
	h.mu.Lock()
	fc := h.clients[id]
	if fc == nil {
		fc = &flowClient{watchers: map[*flowWatcher]struct{}{}}
		h.clients[id] = fc
		fc.stop = h.b.WatchClient(id)
	}
	fc.watchers[w] = struct{}{}
	history = append([]flowEvent(nil), fc.history...)
	h.mu.Unlock()
	return w, history, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(fc.watchers, w)
		if len(fc.watchers) == 0 {
			fc.stop()
			delete(h.clients, id)
		}
	}
}

// packet is the broker.Observer side.
func (h *flowHub) packet(ev broker.PacketEvent) {
	fe := flowEvent{Time: ev.Time.UnixMilli(), Out: ev.Out, Packet: ev.Packet, PacketID: ev.PacketID, QoS: ev.QoS,
		Retain: ev.Retain, Dup: ev.Dup, Code: ev.Code, Topic: ev.Topic, Detail: ev.Detail}
	h.mu.Lock()
	defer h.mu.Unlock()
	fc := h.clients[ev.ClientID]
	if fc == nil {
		return
	}
	if len(fc.history) >= flowHistory {
		copy(fc.history, fc.history[1:])
		fc.history = fc.history[:flowHistory-1]
	}
	fc.history = append(fc.history, fe)
	for w := range fc.watchers {
		select {
		case w.ch <- fe:
		default:
			w.dropped.Add(1)
		}
	}
}
