package broker

import (
	"maps"
	"slices"
	"sync"
)

// MemoryStore is a Store kept in memory. It survives a Broker (Shutdown,
// then New with the same store) but not the process; it serves tests and
// is the reference behaviour for persistent implementations.
type MemoryStore struct {
	mu       sync.Mutex
	retained map[string]*StoredMessage
	sessions map[string]*memSession
}

type memSession struct {
	meta     StoredSession
	subs     map[string]*StoredSubscription
	messages map[uint64]*StoredMessage
	inbound  map[uint16]bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{retained: map[string]*StoredMessage{}, sessions: map[string]*memSession{}}
}

func (m *MemoryStore) Load() (*StoreSnapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := &StoreSnapshot{}
	for _, k := range slices.Sorted(maps.Keys(m.retained)) {
		snap.Retained = append(snap.Retained, cloneMsg(m.retained[k]))
	}
	for _, id := range slices.Sorted(maps.Keys(m.sessions)) {
		ms := m.sessions[id]
		s := ms.meta
		for _, f := range slices.Sorted(maps.Keys(ms.subs)) {
			sub := *ms.subs[f]
			s.Subscriptions = append(s.Subscriptions, &sub)
		}
		for _, seq := range slices.Sorted(maps.Keys(ms.messages)) {
			s.Messages = append(s.Messages, cloneMsg(ms.messages[seq]))
		}
		s.Inbound = slices.Sorted(maps.Keys(ms.inbound))
		snap.Sessions = append(snap.Sessions, &s)
	}
	return snap, nil
}

func cloneMsg(sm *StoredMessage) *StoredMessage {
	c := *sm
	c.SubIDs = slices.Clone(sm.SubIDs)
	if sm.Source != nil {
		so := *sm.Source
		c.Source = &so
	}
	return &c
}

func (m *MemoryStore) SaveRetained(sm *StoredMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retained[sm.Topic] = cloneMsg(sm)
	return nil
}

func (m *MemoryStore) DeleteRetained(topic string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.retained, topic)
	return nil
}

// session returns the stored session id, creating an empty one.
func (m *MemoryStore) session(id string) *memSession {
	ms := m.sessions[id]
	if ms == nil {
		ms = &memSession{meta: StoredSession{ClientID: id}, subs: map[string]*StoredSubscription{},
			messages: map[uint64]*StoredMessage{}, inbound: map[uint16]bool{}}
		m.sessions[id] = ms
	}
	return ms
}

func (m *MemoryStore) SaveSession(s *StoredSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.session(s.ClientID)
	ms.meta = *s
	ms.meta.Subscriptions, ms.meta.Messages, ms.meta.Inbound = nil, nil, nil
	return nil
}

func (m *MemoryStore) DeleteSession(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *MemoryStore) SaveSubscription(id string, s *StoredSubscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *s
	m.session(id).subs[s.Filter] = &c
	return nil
}

func (m *MemoryStore) DeleteSubscription(id, filter string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.sessions[id]; ms != nil {
		delete(ms.subs, filter)
	}
	return nil
}

func (m *MemoryStore) SaveMessage(id string, sm *StoredMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.session(id).messages[sm.Seq] = cloneMsg(sm)
	return nil
}

func (m *MemoryStore) DeleteMessage(id string, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.sessions[id]; ms != nil {
		delete(ms.messages, seq)
	}
	return nil
}

func (m *MemoryStore) SaveInbound(id string, pid uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.session(id).inbound[pid] = true
	return nil
}

func (m *MemoryStore) DeleteInbound(id string, pid uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.sessions[id]; ms != nil {
		delete(ms.inbound, pid)
	}
	return nil
}

// counts reports stored sessions, messages and retained messages.
func (m *MemoryStore) counts() (sessions, messages, retained int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		messages += len(s.messages)
	}
	return len(m.sessions), messages, len(m.retained)
}
