package brokercmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/mqkit/mqkit/internal/broker"
	"github.com/mqkit/mqkit/internal/config"
)

// listenIPv6Loopback gives each local-only listener (no configuration, or
// -p PORT) a twin on [::1] with the same port, as mosquitto's local-only
// mode listens on "localhost", both 127.0.0.1 and ::1: so "mqpub -h ::1"
// and clients that resolve localhost to ::1 first reach the broker. A
// connection accepted there is served as one of the 127.0.0.1 listener
// (same name: same security settings). Without IPv6 on the loopback
// interface nothing happens; a port that another program holds on ::1
// only is a warning. It returns the [::1] addresses opened and a function
// that closes them and waits for their accept loops.
func listenIPv6Loopback(ctx context.Context, b *broker.Broker, cfg *config.Config, names []string, logger *slog.Logger) ([]string, func()) {
	var (
		wg    sync.WaitGroup
		lns   []net.Listener
		addrs []string
	)
	if !cfg.LocalOnly {
		return nil, func() {}
	}
	for i, l := range cfg.Listeners {
		if !l.Local || l.Unix != "" || l.Bind != "127.0.0.1" || i >= len(names) {
			continue
		}
		a, ok := b.Addr(names[i]).(*net.TCPAddr)
		if !ok {
			continue
		}
		addr := net.JoinHostPort("::1", strconv.Itoa(a.Port))
		ln, err := net.Listen("tcp6", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				logger.Warn(fmt.Sprintf("Warning: not listening on [::1]:%d: %v (another program holds it; 127.0.0.1:%d works)", a.Port, err, a.Port))
			}
			continue // no IPv6 loopback: 127.0.0.1 only
		}
		logger.Info(fmt.Sprintf("Opening tcp listen socket on %s.", addr))
		lns = append(lns, ln)
		addrs = append(addrs, addr)
		name := names[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				nc, err := ln.Accept()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					return // closed
				}
				if err := b.ServeConn(nc, name); errors.Is(err, broker.ErrServerClosed) {
					return
				}
			}
		}()
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			for _, ln := range lns {
				ln.Close()
			}
			wg.Wait()
		})
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	return addrs, stop
}
