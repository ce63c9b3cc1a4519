package broker

import "sync"

// Workers: goroutines shared by all connections that run the deep work
// (TLS handshake, PROXY header, packet handlers, writes), so that a
// connection's own goroutine only waits for input on a shallow stack.
//
// A goroutine's stack grows to what its deepest call needed and is never
// shrunk below four times what it uses while parked: a reader that once
// ran the CONNECT handler keeps 8 KiB of stack for as long as the client
// stays connected, idle or not. With workers, an idle connection costs
// one goroutine of the minimum stack size (2 KiB) and no writer goroutine.
// Workers keep their grown stacks and are reused, so the hand-off costs
// two goroutine switches per batch of input and none per packet.

type jobKind uint8

const (
	jobRead      jobKind = iota // handle the buffered input (the connection's goroutine waits)
	jobHandshake                // TLS handshake (the connection's goroutine waits)
	jobProxy                    // read the PROXY header (the connection's goroutine waits)
	jobWrite                    // drain the write queue (asynchronous)
)

type job struct {
	c    *conn
	kind jobKind
}

func (j job) run(w *worker) {
	c := j.c
	switch j.kind {
	case jobRead:
		c.x.deferred = &w.deferred
		c.x.g.jobErr = c.readJob()
		c.x.deferred = nil
		if cap(w.deferred) > 1024 {
			w.deferred = nil // do not keep a burst's array for ever
		}
		c.x.g.jobDone.Done()
	case jobHandshake:
		c.x.g.jobErr = c.handshake()
		c.x.g.jobDone.Done()
	case jobProxy:
		c.x.g.jobErr = c.readProxy()
		c.x.g.jobDone.Done()
	case jobWrite:
		c.writeJob()
	}
}

// maxIdleWorkers bounds the workers kept waiting for a job; beyond it a
// worker ends when it has nothing to do.
const maxIdleWorkers = 128

// workerPool starts workers on demand and keeps up to maxIdleWorkers of
// them, most recently used first. The zero value is ready. Idle workers
// end when the broker shuts down (Broker.done); a job submitted after
// that runs on a worker that ends when the job does.
type workerPool struct {
	mu   sync.Mutex
	idle []*worker
}

type worker struct {
	jobs     chan job // capacity 1: submit never blocks
	deferred []*conn  // the running read job's connections to flush (conn.kick)
}

// submit runs j on an idle worker, or on a new one.
func (p *workerPool) submit(j job) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- j
		return
	}
	p.mu.Unlock()
	go p.work(&worker{jobs: make(chan job, 1)}, j)
}

func (p *workerPool) work(w *worker, j job) {
	done := j.c.b.done // every job of a pool is for the same broker
	for {
		j.run(w)
		j = job{}
		if !p.park(w, done) {
			return
		}
		select {
		case j = <-w.jobs:
		case <-done:
			if p.unpark(w) {
				return
			}
			// submit took w off the list first: its job is on the way.
			j = <-w.jobs
		}
	}
}

// park puts w on the idle list, unless the list is full or the broker is
// shutting down.
func (p *workerPool) park(w *worker, done <-chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= maxIdleWorkers {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// unpark takes w off the idle list; false if submit already did.
func (p *workerPool) unpark(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle {
		if x == w {
			last := len(p.idle) - 1
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[last] = nil
			p.idle = p.idle[:last]
			return true
		}
	}
	return false
}
