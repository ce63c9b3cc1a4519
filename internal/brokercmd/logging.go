package brokercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mqkit/mqkit/internal/config"
)

// logHandler writes mosquitto-style log lines: "1700000000: message k=v".
// It filters by the log_type set of the configuration.
type logHandler struct {
	mu        *sync.Mutex
	out       io.Writer
	types     config.LogType
	timestamp bool
	now       func() time.Time
	attrs     []slog.Attr
}

func newLogHandler(out io.Writer, types config.LogType, timestamp bool) *logHandler {
	return &logHandler{mu: &sync.Mutex{}, out: out, types: types, timestamp: timestamp, now: time.Now}
}

// typeOf maps slog levels to mosquitto log types: Error → error,
// Warn → warning, Info → notice/information, Debug → debug.
func typeOf(l slog.Level) config.LogType {
	switch {
	case l >= slog.LevelError:
		return config.LogError
	case l >= slog.LevelWarn:
		return config.LogWarning
	case l >= slog.LevelInfo:
		return config.LogNotice | config.LogInformation
	default:
		return config.LogDebug
	}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.out != nil && h.types&typeOf(l) != 0
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if h.timestamp {
		fmt.Fprintf(&b, "%d: ", h.now().Unix())
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.out, b.String())
	return err
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }
