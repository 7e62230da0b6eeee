package grpcflat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redial"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
)

// MinPingTime is grpc-go's floor for a client's keepalive Time: a shorter
// one is raised to it (and logged).
const MinPingTime = 10 * time.Second

// infinity is grpc-go's "keepalive off".
const infinity = time.Duration(math.MaxInt64)

// defaultPingTimeout is grpc-go's keepalive Timeout when Time is set and
// Timeout is zero, on clients and servers.
const defaultPingTimeout = 20 * time.Second

// Params are gRPC keepalive parameters that keep flatline's promise.
type Params struct {
	// Config is the flatline configuration, Plan its plan: the settings
	// every connection must carry.
	Config flatline.Config
	Plan   flatline.Plan
	// Client goes to grpc.WithKeepaliveParams when its Time is set; zero
	// when the caller has no keepalive parameters (gRPC's pings off).
	Client keepalive.ClientParameters
	// Changed says what was changed in the caller's keepalive parameters
	// and why; empty when nothing was.
	Changed string
	// FrozenPeer is how soon the caller's pings notice a peer whose
	// process is frozen: Time + Timeout. Zero without pings: a frozen peer
	// then needs an application heartbeat (package liveness).
	FrozenPeer time.Duration
}

// Derive returns keepalive parameters for cfg that keep kp, the caller's
// own (zero: none), except for a Timeout that would replace flatline's
// user timeout.
func Derive(cfg flatline.Config, kp keepalive.ClientParameters) (Params, error) {
	plan, err := cfg.Plan()
	if err != nil {
		return Params{}, err
	}
	p := Params{Config: cfg, Plan: plan}
	if kp.Time == 0 || kp.Time == infinity {
		return p, nil
	}
	u := plan.Settings.UserTimeout
	p.Client = kp
	p.Client.Timeout = u
	if kp.Timeout != u {
		was := kp.Timeout
		if was == 0 {
			was = defaultPingTimeout
		}
		p.Changed = fmt.Sprintf("grpcflat: keepalive Timeout %v changed to %v: grpc-go closes a connection whose ping is not answered within it, and sets TCP_USER_TIMEOUT to it on a *net.TCPConn, which would replace flatline's %d ms (T = %v); Time %v and PermitWithoutStream %v kept",
			was, u, u.Milliseconds(), plan.Timeout, kp.Time, kp.PermitWithoutStream)
	}
	p.FrozenPeer = max(kp.Time, MinPingTime) + u
	return p, nil
}

// Options are what the caller already has for grpc.NewClient. Their zero
// value works.
type Options struct {
	// Keepalive is the caller's grpc.WithKeepaliveParams, if any (see
	// Derive); do not pass it to grpc.NewClient as well.
	Keepalive keepalive.ClientParameters
	// Dial is the caller's grpc.WithContextDialer function, if any: it is
	// composed (see redial.Options.Dial); do not pass it as well.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Recorder, if set, records every connection's end.
	Recorder *flatline.Recorder
}

// DialOptions returns the options for grpc.NewClient (a context dialer,
// keepalive parameters when the caller has pings, and interceptors that
// attach causes to errors), and the Dialer they dial with.
func DialOptions(cfg flatline.Config, o Options) ([]grpc.DialOption, *Dialer, error) {
	p, err := Derive(cfg, o.Keepalive)
	if err != nil {
		return nil, nil, err
	}
	var own redial.DialFunc
	if o.Dial != nil {
		own = func(ctx context.Context, _, addr string) (net.Conn, error) { return o.Dial(ctx, addr) }
	}
	rd, err := redial.New(cfg, redial.Options{Recorder: o.Recorder, Dial: own})
	if err != nil {
		return nil, nil, err
	}
	d := &Dialer{Params: p, d: rd}
	opts := []grpc.DialOption{
		grpc.WithContextDialer(d.Dial),
		grpc.WithChainUnaryInterceptor(d.unary),
		grpc.WithChainStreamInterceptor(d.stream),
	}
	if p.Client.Time != 0 {
		opts = append(opts, grpc.WithKeepaliveParams(p.Client))
	}
	return opts, d, nil
}

// ServerOptions returns the options for grpc.NewServer that keep sp, the
// caller's server keepalive parameters (zero: gRPC's defaults), except for
// their Timeout, which grpc-go makes every accepted connection's
// TCP_USER_TIMEOUT (20 s by default): it becomes the plan's user timeout.
// The listener configuration sets flatline's options on accepted
// connections; changed says what was changed, empty when nothing was.
func ServerOptions(cfg flatline.Config, sp keepalive.ServerParameters) (opts []grpc.ServerOption, lc flatline.ListenConfig, changed string, err error) {
	plan, err := cfg.Plan()
	if err != nil {
		return nil, flatline.ListenConfig{}, "", err
	}
	u := plan.Settings.UserTimeout
	if sp.Timeout != u && sp.Time != infinity {
		was := sp.Timeout
		if was == 0 {
			was = defaultPingTimeout
		}
		changed = fmt.Sprintf("grpcflat: server keepalive Timeout %v changed to %v: grpc-go sets every accepted connection's TCP_USER_TIMEOUT to it, which would replace flatline's %d ms",
			was, u, u.Milliseconds())
		sp.Timeout = u
	}
	return []grpc.ServerOption{grpc.KeepaliveParams(sp)}, flatline.ListenConfig{Config: cfg}, changed, nil
}

// ErrNoConn is Verify's answer when it has no open connection to read:
// none was dialed through the Dialer (a later grpc.WithContextDialer
// replaced it: pass that dialer in Options.Dial), or all have closed.
var ErrNoConn = errors.New("grpcflat: no open connection dialed through grpcflat's dialer to verify")

// Dialer dials gRPC connections with flatline's settings and remembers
// them, so that Verify can read back what gRPC did to them and failed RPCs
// can be given their connection's cause.
type Dialer struct {
	Params Params
	d      *redial.Dialer

	mu    sync.Mutex
	conns []*redial.Conn
}

// Dial is the dialer for grpc.WithContextDialer: gRPC's signature is
// (ctx, addr), flatline's (ctx, network, addr).
func (d *Dialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	live := d.conns[:0]
	for _, old := range d.conns {
		if _, ended := old.End(); !ended {
			live = append(live, old)
		}
	}
	d.conns = append(live, c.(*redial.Conn))
	d.mu.Unlock()
	return c, nil
}

// Verify reads back every open connection the Dialer made and returns a
// *ClashError for the first whose TCP_USER_TIMEOUT is not the plan's, an
// error for one it cannot read, and ErrNoConn when there is none to read.
func (d *Dialer) Verify() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := 0
	for _, c := range d.conns {
		if _, ended := c.End(); ended {
			continue
		}
		seen++
		if err := VerifyConn(c, d.Params.Plan); err != nil {
			return err
		}
	}
	if seen == 0 {
		return ErrNoConn
	}
	return nil
}

// ClashError is a connection whose TCP_USER_TIMEOUT is not what flatline
// planned: gRPC (or something else) set its own.
type ClashError struct {
	Want, Got time.Duration
	Conn      string
}

func (e *ClashError) Error() string {
	return fmt.Sprintf("grpcflat: %s: TCP_USER_TIMEOUT is %d ms, flatline planned %d ms: grpc-go sets it to the keepalive Timeout; give your keepalive parameters to grpcflat (Options.Keepalive, ServerOptions) instead of gRPC",
		e.Conn, e.Got.Milliseconds(), e.Want.Milliseconds())
}

// VerifyConn reads c's socket options back and returns a *ClashError if its
// TCP_USER_TIMEOUT is not plan's, or the error that kept it from reading
// them (c is not a socket, is closed, or the platform cannot read them).
func VerifyConn(c net.Conn, plan flatline.Plan) error {
	s, err := readSettings(c)
	if err != nil {
		return fmt.Errorf("grpcflat: cannot verify %s->%s: %w", c.LocalAddr(), c.RemoteAddr(), err)
	}
	if s.UserTimeout != plan.Settings.UserTimeout {
		return &ClashError{Want: plan.Settings.UserTimeout, Got: s.UserTimeout, Conn: c.LocalAddr().String() + "->" + c.RemoteAddr().String()}
	}
	return nil
}

func readSettings(c net.Conn) (flatline.Settings, error) {
	for range 8 {
		if sc, ok := c.(syscall.Conn); ok {
			return flatline.ReadSettings(sc)
		}
		nc, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = nc.NetConn()
	}
	return flatline.Settings{}, fmt.Errorf("%T has no socket to read", c)
}

// CheckParams says, before dialing, what client keepalive parameters kp do
// to a connection dialed with cfg: nil if gRPC will leave flatline's user
// timeout alone or set the same value, else an error naming the value gRPC
// will set and its cost.
func CheckParams(kp keepalive.ClientParameters, cfg flatline.Config) error {
	if kp.Time == 0 || kp.Time == infinity {
		return nil
	}
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	timeout := kp.Timeout
	if timeout == 0 {
		timeout = defaultPingTimeout
	}
	want := plan.Settings.UserTimeout
	if timeout == want {
		return nil
	}
	s := plan.Settings
	s.UserTimeout = timeout
	cost := fmt.Sprintf("unacknowledged data is noticed after %v instead of %v", timeout, want)
	for _, b := range s.Bounds(flatline.LinuxDefaults()) {
		if b.State == flatline.StateIdle && !b.Never && b.LostProbes == 0 {
			cost = fmt.Sprintf("with keepalive %v/%v, one lost keepalive probe kills a healthy connection", s.Idle, s.Interval)
		}
	}
	return fmt.Errorf("grpcflat: keepalive Timeout %v becomes TCP_USER_TIMEOUT (%d ms), replacing flatline's %d ms: %s; give it to grpcflat.Derive",
		kp.Timeout, timeout.Milliseconds(), want.Milliseconds(), cost)
}

// explain attaches to err the cause of the end of the connection between
// p's addresses, or else of the latest dead-peer end since began.
func (d *Dialer) explain(p *peer.Peer, began time.Time, err error) error {
	if p != nil && p.Addr != nil && p.LocalAddr != nil {
		local, remote := p.LocalAddr.String(), p.Addr.String()
		d.mu.Lock()
		var match *redial.Conn
		for _, c := range d.conns {
			if c.LocalAddr().String() == local && c.RemoteAddr().String() == remote {
				match = c
			}
		}
		d.mu.Unlock()
		if match != nil {
			if e := redial.Explain(match, err); e != err {
				return e
			}
		}
	}
	return d.d.ExplainSince(began, err)
}

func (d *Dialer) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	began := time.Now()
	var p peer.Peer
	err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Peer(&p))...)
	if err != nil {
		return d.explain(&p, began, err)
	}
	return nil
}

func (d *Dialer) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	began := time.Now()
	var p peer.Peer
	cs, err := streamer(ctx, desc, cc, method, append(opts, grpc.Peer(&p))...)
	if err != nil {
		return nil, d.explain(&p, began, err)
	}
	return &stream{ClientStream: cs, d: d, began: began}, nil
}

// stream attaches causes to a client stream's errors.
type stream struct {
	grpc.ClientStream
	d     *Dialer
	began time.Time
}

func (s *stream) explain(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	p, _ := peer.FromContext(s.Context())
	return s.d.explain(p, s.began, err)
}

func (s *stream) SendMsg(m any) error { return s.explain(s.ClientStream.SendMsg(m)) }
func (s *stream) RecvMsg(m any) error { return s.explain(s.ClientStream.RecvMsg(m)) }
