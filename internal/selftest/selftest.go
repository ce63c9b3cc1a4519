package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mqkit/mqkit/internal/client"
	"github.com/mqkit/mqkit/internal/mqtt"
)

// Result is the verdict of one check.
type Result string

const (
	Pass Result = "PASS"
	Fail Result = "FAIL"
	Skip Result = "SKIP"
)

// Outcome is what one check found.
type Outcome struct {
	Name     string
	Result   Result
	Detail   string // why it failed or was skipped; what was verified for a pass
	Duration time.Duration
}

// DefaultTimeout is the deadline of each check.
const DefaultTimeout = 5 * time.Second

// TopicRoot is the first level of every topic the checks use.
const TopicRoot = "mqkit-selftest"

// Config says which broker to check and how to reach it.
type Config struct {
	// Endpoint is the broker every check connects to.
	Endpoint client.Endpoint
	// WebSocket, when set, is a second (ws or wss) endpoint of the same
	// broker for the transport/websocket check. Without it that check
	// runs only when Endpoint itself is a WebSocket endpoint.
	WebSocket *client.Endpoint
	// Username and Password are sent in every CONNECT when set.
	Username    string
	HasUsername bool
	Password    []byte
	HasPassword bool
	// Timeout is each check's deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// ACL says that the broker's ACL denies ACLDenied to the checks'
	// client and grants it the rest (ACLRules); the acl/subscribe check
	// is skipped without it.
	ACL bool
	// NoCausal skips the causal-order check (mosquitto 2.0.11 fails its
	// hot half, see checkCausal); CausalModes are its modes (default
	// fresh and hot) and CausalTries its tries per mode (default
	// DefaultCausalTries).
	NoCausal    bool
	CausalModes []CausalMode
	CausalTries int
}

// DefaultCausalTries is the causal-order check's tries per mode.
const DefaultCausalTries = 50

// Runner runs the checks against one broker.
type Runner struct {
	cfg    Config
	run    string // random hex, unique per Runner
	prefix string

	// Learned by the probe before the first check.
	v5       bool            // the broker accepted a 5.0 CONNECT
	v5Reason string          // why not, when !v5
	caps     mqtt.Properties // CONNACK properties of the 5.0 probe
}

// New returns a Runner with fresh random topics and client identifiers.
func New(cfg Config) *Runner {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	run := hex.EncodeToString(b[:])
	return &Runner{cfg: cfg, run: run, prefix: TopicRoot + "/" + run}
}

// Prefix is the topic under which this run's checks publish.
func (r *Runner) Prefix() string { return r.prefix }

// Names lists the checks in the order they run.
func Names() []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.name
	}
	return names
}

// UnreachableError means the broker could not be connected to at all, so
// no check ran.
type UnreachableError struct {
	Endpoint string
	Err      error
}

func (e *UnreachableError) Error() string {
	return e.Endpoint + ": " + e.Err.Error()
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Run runs every check in order, calling report (if not nil) after each.
// It returns the outcomes. The error is an *UnreachableError when the
// broker cannot be reached or refuses our credentials (then no check
// ran), or ctx's error when ctx ended (the outcomes so far are returned).
func (r *Runner) Run(ctx context.Context, report func(Outcome)) ([]Outcome, error) {
	if err := r.probe(ctx); err != nil {
		return nil, err
	}
	var out []Outcome
	for i, c := range checks {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		o := r.runCheck(ctx, i, c)
		out = append(out, o)
		if report != nil {
			report(o)
		}
	}
	return out, ctx.Err()
}

// probe connects once with 5.0 to learn the broker's capabilities, and
// tells an unreachable broker (or one refusing our credentials) from one
// that merely does not speak 5.0.
func (r *Runner) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	opts := r.options(r.clientID(0, "probe"), mqtt.V5)
	opts.ConnectTimeout = r.cfg.Timeout
	c, err := client.Connect(pctx, opts)
	if err == nil {
		r.v5 = true
		r.caps = c.Connack().Props
		return c.Disconnect(pctx, nil)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ce *client.ConnackError
	var pe *client.ProtocolError
	switch {
	case errors.As(err, &ce) && ce.Code != mqtt.UnsupportedProtocolVersion:
		return &UnreachableError{Endpoint: r.cfg.Endpoint.String(), Err: err}
	case errors.As(err, &ce), errors.As(err, &pe):
		// A 3.1.1-only broker answers with a 3.1.1 CONNACK (return code
		// 1), which may not even decode as a 5.0 one.
		r.v5Reason = err.Error()
	default:
		return &UnreachableError{Endpoint: r.cfg.Endpoint.String(), Err: err}
	}
	// Check that 3.1.1 works before running anything.
	opts = r.options(r.clientID(0, "probe"), mqtt.V311)
	opts.ConnectTimeout = r.cfg.Timeout
	if c, err = client.Connect(pctx, opts); err != nil {
		return &UnreachableError{Endpoint: r.cfg.Endpoint.String(), Err: err}
	}
	return c.Disconnect(pctx, nil)
}

// options is the base client configuration of every connection.
func (r *Runner) options(id string, v mqtt.Version) client.Options {
	return client.Options{
		Endpoint: r.cfg.Endpoint,
		Connect: mqtt.Connect{
			Version:     v,
			CleanStart:  true,
			KeepAlive:   60,
			ClientID:    id,
			HasUsername: r.cfg.HasUsername,
			Username:    r.cfg.Username,
			HasPassword: r.cfg.HasPassword,
			Password:    r.cfg.Password,
		},
	}
}

// clientID is "mqst" + the run + the check's index + role: at most 23
// characters for roles of up to 9 [MQTT-3.1.3-5] (3.1 brokers enforce it).
func (r *Runner) clientID(check int, role string) string {
	return fmt.Sprintf("mqst%s%02d%s", r.run, check, role)
}

// available reports whether a 5.0 capability flag (Wildcard, Subscription
// Identifier, Shared Subscription Available) is absent or 1.
func (r *Runner) available(id mqtt.PropID, v byte) bool {
	return !r.caps.Has(id) || v == 1
}

func (r *Runner) maxQoS() mqtt.QoS {
	if r.caps.Has(mqtt.PropMaximumQoS) {
		return mqtt.QoS(r.caps.MaximumQoS)
	}
	return 2
}

func (r *Runner) retainAvailable() bool {
	return r.available(mqtt.PropRetainAvailable, r.caps.RetainAvailable)
}

// runCheck runs one check with its deadline, then its cleanup.
func (r *Runner) runCheck(ctx context.Context, index int, c check) Outcome {
	start := time.Now()
	o := Outcome{Name: c.name}
	if c.v5 && !r.v5 {
		o.Result, o.Detail = Skip, "broker refused MQTT 5.0: "+r.v5Reason
		return o
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout+c.extra)
	e := &env{r: r, ctx: cctx, index: index + 1, topic: r.prefix + "/" + c.name}
	detail, err := c.run(e)
	cancel()
	var skip *skipError
	switch {
	case ctx.Err() != nil:
		o.Result, o.Detail = Skip, "interrupted"
	case err == nil:
		o.Result, o.Detail = Pass, detail
	case errors.As(err, &skip):
		o.Result, o.Detail = Skip, skip.msg
	default:
		o.Result, o.Detail = Fail, err.Error()
	}
	if cerr := e.cleanup(ctx); cerr != nil {
		o.Detail += " (cleanup: " + cerr.Error() + ")"
	}
	o.Duration = time.Since(start)
	return o
}

// check is one entry of the list.
type check struct {
	name  string
	v5    bool          // needs MQTT 5.0
	extra time.Duration // added to the deadline (time the check must wait)
	run   func(e *env) (detail string, err error)
}

// skipError makes a check SKIP instead of FAIL.
type skipError struct{ msg string }

func (s *skipError) Error() string { return s.msg }

func skipf(format string, a ...any) error { return &skipError{msg: fmt.Sprintf(format, a...)} }

// Summary counts outcomes.
type Summary struct {
	Passed, Failed, Skipped int
}

// Summarize counts outcomes by result.
func Summarize(outcomes []Outcome) Summary {
	var s Summary
	for _, o := range outcomes {
		switch o.Result {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Skip:
			s.Skipped++
		}
	}
	return s
}

func (s Summary) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", s.Passed, s.Failed, s.Skipped)
}
