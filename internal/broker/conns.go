package broker

// connSet is the broker's connections, under Broker.mu: a slice in which
// each conn knows its position (conn.lp.reg). It costs a connection 8
// bytes (and the slice's spare room), where a map[*conn]struct{} cost
// about 29 (issue 17: an idle connection's memory).
type connSet struct{ list []*conn }

func (s *connSet) len() int { return len(s.list) }

func (s *connSet) add(c *conn) {
	c.lp.reg = int32(len(s.list))
	s.list = append(s.list, c)
}

// remove takes c out of the set; nothing if it is not in it.
func (s *connSet) remove(c *conn) {
	i, last := int(c.lp.reg), len(s.list)-1
	if i < 0 || i > last || s.list[i] != c {
		return
	}
	s.list[i] = s.list[last]
	s.list[i].lp.reg = int32(i)
	s.list[last] = nil
	s.list = s.list[:last]
	c.lp.reg = -1
	if cap(s.list) > 64 && len(s.list) < cap(s.list)/4 {
		// After a burst of connections has gone: do not keep its array.
		s.list = append(make([]*conn, 0, 2*len(s.list)), s.list...)
	}
}

// all returns a copy of the set's connections.
func (s *connSet) all() []*conn { return append([]*conn(nil), s.list...) }
