package broker

import (
	"sync"
	"syscall"
	"time"
)

// fdPoller waits, for fdConns, until their sockets are ready: a write job
// whose socket is full (or a rare blocking Read) registers the
// descriptor once (EPOLLONESHOT) and parks on a channel; one goroutine
// waits in epoll_wait for all of them and closes the channels of the
// ready ones. So thousands of slow consumers cost no thread each and are
// woken as soon as their sockets take data, as net.TCPConn's waits in Go's
// poller are (a poll(2) per waiter would hold a thread each). The
// goroutine ends when nothing has waited for fdPollerIdle; the next wait
// starts it again.
type fdPoller struct {
	mu      sync.Mutex
	epfd    int // -1 until first used; never closed (one per process)
	running bool
	waiters map[int32]*fdWaiter
}

type fdWaiter struct {
	ch     chan struct{} // closed when the descriptor is ready
	events uint32        // what its waiters wait for
}

// fdPollerIdle is how long the poller's goroutine stays without waiters.
const fdPollerIdle = 100 * time.Millisecond

var fdPoll = fdPoller{epfd: -1}

// await registers fd for events (EPOLLIN, EPOLLOUT; errors and hang-ups
// are always reported) and returns the channel closed when it is ready.
// Waiters of one descriptor share the channel.
func (p *fdPoller) await(fd int32, events uint32) (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epfd < 0 {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		p.epfd = epfd
		p.waiters = map[int32]*fdWaiter{}
	}
	w := p.waiters[fd]
	if w == nil {
		w = &fdWaiter{ch: make(chan struct{})}
		p.waiters[fd] = w
	}
	w.events |= events
	ev := syscall.EpollEvent{Events: w.events | syscall.EPOLLONESHOT, Fd: fd}
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}
	if err != nil {
		delete(p.waiters, fd)
		return nil, err
	}
	if !p.running {
		p.running = true
		go p.run()
	}
	return w.ch, nil
}

// cancel forgets a waiter that stopped waiting (deadline, close) before
// its descriptor was ready.
func (p *fdPoller) cancel(fd int32, ch <-chan struct{}) {
	p.mu.Lock()
	if w := p.waiters[fd]; w != nil && w.ch == ch {
		delete(p.waiters, fd)
	}
	p.mu.Unlock()
}

// run is the poller's goroutine.
func (p *fdPoller) run() {
	events := make([]syscall.EpollEvent, 128)
	idleSince := time.Now()
	for {
		n, err := syscall.EpollWait(p.epfd, events, int(fdPollerIdle/time.Millisecond))
		if err != nil && err != syscall.EINTR {
			time.Sleep(10 * time.Millisecond) // never spin
		}
		p.mu.Lock()
		for i := 0; i < n; i++ {
			fd := events[i].Fd
			if w := p.waiters[fd]; w != nil {
				delete(p.waiters, fd)
				close(w.ch)
			}
		}
		switch {
		case len(p.waiters) > 0 || n > 0:
			idleSince = time.Now()
		case time.Since(idleSince) >= fdPollerIdle:
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
