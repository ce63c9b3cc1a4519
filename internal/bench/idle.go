package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqkit/mqkit/internal/mqtt"
)

// runIdle opens cfg.Connections connections (CONNECT, wait for CONNACK),
// holds them idle for cfg.Hold and reports the broker's RSS growth per
// connection.
func runIdle(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	limit, err := RaiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	// Each connection is a file descriptor; keep some for the runtime.
	if need := uint64(cfg.Connections) + 64; limit < need {
		return nil, fmt.Errorf("the file descriptor limit is %d even after raising the soft limit to the hard one; "+
			"%d connections need %d: raise the hard limit (ulimit -Hn, /etc/security/limits.conf)", limit, cfg.Connections, need)
	}
	r := &Result{Scenario: Idle, Label: cfg.Label, Addr: cfg.Addr, Protocol: cfg.Version.String(),
		Idle: &IdleStats{Requested: cfg.Connections, FileLimit: limit}}
	sampler := newBrokerSampler(cfg.PID)
	sampler.sample()
	runID := rand.Uint32()
	// Tiny buffers: the generator holds thousands of these.
	opts := DialOptions{Addr: cfg.Addr, Version: cfg.Version, Timeout: cfg.ConnectTimeout, ReadBuf: 64, WriteBuf: 64}
	conns := make([]*Conn, cfg.Connections)
	var connected, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	pl := &progressLine{w: progress}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(progressDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				pl.clear()
				return
			case now := <-t.C:
				n := uint64(connected.Load())
				pl.update(now, "idle | %4.1fs | connected %d/%d | failed %d", n,
					now.Sub(t0).Seconds(), n, cfg.Connections, failed.Load())
			}
		}
	}()
	parallel(ctx, cfg.Connections, cfg.Parallel, func(i int) error {
		o := opts
		o.Addr = cfg.addrFor(i, 0)
		c, err := Dial(ctx, o, fmt.Sprintf("mqbench-%08x-i%d", runID, i))
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
			return err
		}
		conns[i] = c
		connected.Add(1)
		return nil
	})
	connectTime := time.Since(t0)
	close(stopProgress)
	<-progressDone
	s := r.Idle
	s.Connected, s.Failed = int(connected.Load()), int(failed.Load())
	s.ConnectSeconds = connectTime.Seconds()
	if s.ConnectSeconds > 0 {
		s.ConnectRate = float64(s.Connected) / s.ConnectSeconds
	}
	if firstErr != nil {
		s.FirstError = firstErr.Error()
	}
	r.Stop = "complete"
	holdStart := time.Now()
	stopPub := make(chan struct{})
	var pubs sync.WaitGroup
	var published, pubFailed atomic.Int64
	if cfg.RatePerConn > 0 {
		s.RatePerConn, s.QoS = cfg.RatePerConn, int(cfg.QoS)
		publishIdle(conns, cfg, runID, stopPub, &pubs, &published, &pubFailed)
	}
	if !holdFor(ctx, cfg.Hold, sampler) {
		r.Stop = "interrupted"
	}
	close(stopPub)
	pubs.Wait()
	s.HoldSeconds = time.Since(holdStart).Seconds()
	sampler.sample()
	var acked int64
	s.Alive, acked = countAlive(conns)
	if cfg.RatePerConn > 0 {
		s.Published, s.Acked = published.Load(), acked
		if n := pubFailed.Load(); n > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("%d publications failed", n))
		}
	}
	if st := sampler.stats(time.Now()); st != nil {
		r.Broker = st
		s.RSSBeforeKB, s.RSSAfterKB = st.RSSStartKB, st.RSSEndKB
		if s.Connected > 0 {
			s.BytesPerConn = (float64(s.RSSAfterKB) - float64(s.RSSBeforeKB)) * 1024 / float64(s.Connected)
		}
	}
	if sampler != nil && sampler.err != nil {
		r.Errors = append(r.Errors, sampler.err.Error())
	}
	if s.Failed > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("%d connections failed", s.Failed))
	}
	if s.Alive < s.Connected {
		r.Errors = append(r.Errors, fmt.Sprintf("%d connections were closed by the broker during the hold", s.Connected-s.Alive))
	}
	closeAll(conns)
	return r, nil
}

// holdFor waits d, sampling the broker; false when interrupted.
func holdFor(ctx context.Context, d time.Duration, sampler *brokerSampler) bool {
	end := time.Now().Add(d)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			sampler.sample()
		}
	}
	return true
}

// countAlive reports how many connections the broker still holds open: a
// read that times out means nothing more arrived, not even EOF. It also
// counts the PUBACKs read on the way (--rate-per-conn at QoS 1).
func countAlive(conns []*Conn) (int, int64) {
	var alive, acked atomic.Int64
	parallel(context.Background(), len(conns), 256, func(i int) error {
		c := conns[i]
		if c == nil {
			return nil
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		for {
			p, err := c.ReadPacket()
			if err == nil {
				if a, ok := p.(*mqtt.Ack); ok && a.Kind == mqtt.PUBACK {
					acked.Add(1)
				}
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				alive.Add(1)
			}
			return nil
		}
	})
	return int(alive.Load()), acked.Load()
}

// publishIdle makes each connection publish cfg.RatePerConn messages per
// second until stop, to a topic of its own that nobody subscribes to, the
// connections' turns spread evenly over each period. A few goroutines do
// it all (the generator must not cost more than the connections).
func publishIdle(conns []*Conn, cfg Config, runID uint32, stop <-chan struct{}, wg *sync.WaitGroup,
	published, failed *atomic.Int64) {
	n := len(conns)
	period := time.Duration(float64(time.Second) / cfg.RatePerConn)
	workers := min(16, n)
	payload := make([]byte, cfg.PayloadSize)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(time.Hour)
			defer t.Stop()
			pids := make(map[int]uint16)
			for k := 0; ; k++ {
				for i := w; i < n; i += workers {
					due := start.Add(time.Duration(k)*period + period*time.Duration(i)/time.Duration(n))
					if d := time.Until(due); d > 0 {
						t.Reset(d)
						select {
						case <-stop:
							return
						case <-t.C:
						}
					} else {
						select {
						case <-stop:
							return
						default:
						}
					}
					c := conns[i]
					if c == nil {
						continue
					}
					p := &mqtt.Publish{Topic: fmt.Sprintf("%s/idle/%08x/%d", cfg.TopicPrefix, runID, i),
						Payload: payload, QoS: cfg.QoS}
					if cfg.QoS > 0 {
						pids[i]++
						if pids[i] == 0 {
							pids[i] = 1
						}
						p.PacketID = pids[i]
					}
					err := c.WritePublish(p)
					if err == nil {
						err = c.Flush()
					}
					if err != nil {
						failed.Add(1)
						continue
					}
					published.Add(1)
				}
			}
		}()
	}
}

// closeAll disconnects politely (so TIME_WAIT stays on the broker's side)
// and closes, within about a second.
func closeAll(conns []*Conn) {
	parallel(context.Background(), len(conns), 256, func(i int) error {
		c := conns[i]
		if c == nil {
			return nil
		}
		if c.Disconnect(time.Second) == nil {
			for {
				if _, err := c.ReadPacket(); err != nil {
					break // EOF once the broker closes, or the deadline
				}
			}
		}
		c.Close()
		return nil
	})
}
