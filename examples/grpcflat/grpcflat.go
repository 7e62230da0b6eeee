package grpcflat

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// MinPingTime is grpc-go's floor for a client's keepalive Time: a shorter
// one is raised to it (and logged).
const MinPingTime = 10 * time.Second

// infinity is grpc-go's "keepalive off".
const infinity = time.Duration(math.MaxInt64)

// Params are gRPC keepalive parameters that keep flatline's promise.
type Params struct {
	// Config is the flatline configuration to give the Dialer and the
	// ListenConfig: its UserTimeout is the keepalive Timeout.
	Config flatline.Config
	// Plan is Config's plan: the settings every connection must carry.
	Plan flatline.Plan
	// Client, Server and Policy go to grpc.WithKeepaliveParams,
	// grpc.KeepaliveParams and grpc.KeepaliveEnforcementPolicy.
	Client keepalive.ClientParameters
	Server keepalive.ServerParameters
	Policy keepalive.EnforcementPolicy
	// FrozenPeer is how soon gRPC's pings notice a peer whose process is
	// frozen: Time + Timeout. Zero when keepalive is off (T below 13.4 s).
	FrozenPeer time.Duration
}

// Derive returns keepalive parameters for Timeout cfg.Timeout (see the
// package documentation). cfg's own UserTimeout, if set, is replaced.
func Derive(cfg flatline.Config) (Params, error) {
	t := cfg.Timeout
	if t == 0 {
		t = flatline.DefaultTimeout
	}
	ping := max(MinPingTime, t/3)
	u := t - ping - flatline.FirstRetransmission
	p := Params{Config: cfg}
	p.Config.Timeout = t
	if u < flatline.MinTimeout {
		// No room for gRPC's pings within T: keepalive off, so that gRPC
		// leaves flatline's settings alone.
		p.Config.UserTimeout = cfg.UserTimeout
		plan, err := p.Config.Plan()
		if err != nil {
			return Params{}, err
		}
		p.Plan = plan
		p.Client = keepalive.ClientParameters{Time: infinity}
		p.Server = keepalive.ServerParameters{Time: infinity}
		return p, nil
	}
	p.Config.UserTimeout = u
	plan, err := p.Config.Plan()
	if err != nil {
		return Params{}, err
	}
	p.Plan = plan
	u = plan.Settings.UserTimeout
	p.Client = keepalive.ClientParameters{Time: ping, Timeout: u, PermitWithoutStream: true}
	p.Server = keepalive.ServerParameters{Time: ping, Timeout: u}
	p.Policy = keepalive.EnforcementPolicy{MinTime: ping / 2, PermitWithoutStream: true}
	p.FrozenPeer = ping + u
	return p, nil
}

// DialOptions returns the options for grpc.NewClient, and the Dialer they
// dial with (to Verify the connections).
func DialOptions(cfg flatline.Config) ([]grpc.DialOption, *Dialer, error) {
	p, err := Derive(cfg)
	if err != nil {
		return nil, nil, err
	}
	d := &Dialer{params: p, d: flatline.Dialer{Config: p.Config}}
	return []grpc.DialOption{
		grpc.WithContextDialer(d.Dial),
		grpc.WithKeepaliveParams(p.Client),
	}, d, nil
}

// ServerOptions returns the options for grpc.NewServer, and the listener
// configuration to serve it on.
func ServerOptions(cfg flatline.Config) ([]grpc.ServerOption, flatline.ListenConfig, error) {
	p, err := Derive(cfg)
	if err != nil {
		return nil, flatline.ListenConfig{}, err
	}
	opts := []grpc.ServerOption{grpc.KeepaliveParams(p.Server)}
	if p.FrozenPeer > 0 {
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(p.Policy))
	}
	return opts, flatline.ListenConfig{Config: p.Config}, nil
}

// Dialer dials gRPC connections with flatline's settings and remembers them,
// so that Verify can read back what gRPC did to them.
type Dialer struct {
	params Params
	d      flatline.Dialer
	mu     sync.Mutex
	conns  []net.Conn
}

// Dial is the dialer for grpc.WithContextDialer: gRPC's signature is
// (ctx, addr), flatline's (ctx, network, addr).
func (d *Dialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

// Verify reads back every connection the Dialer made that is still open and
// returns a *ClashError for the first whose TCP_USER_TIMEOUT is not the
// plan's.
func (d *Dialer) Verify() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		if err := VerifyConn(c, d.params.Plan); err != nil {
			return err
		}
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
	return fmt.Sprintf("grpcflat: %s: TCP_USER_TIMEOUT is %d ms, flatline planned %d ms: grpc-go sets it to the keepalive Timeout; use grpcflat.Derive's keepalive parameters",
		e.Conn, e.Got.Milliseconds(), e.Want.Milliseconds())
}

// VerifyConn reads c's socket options back and returns a *ClashError if its
// TCP_USER_TIMEOUT is not plan's. A closed connection is not checked.
func VerifyConn(c net.Conn, plan flatline.Plan) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("grpcflat: %T is not a socket", c)
	}
	s, err := flatline.ReadSettings(sc)
	if err != nil {
		return nil // closed since, or not readable on this platform
	}
	if s.UserTimeout != plan.Settings.UserTimeout {
		return &ClashError{Want: plan.Settings.UserTimeout, Got: s.UserTimeout, Conn: c.LocalAddr().String() + "->" + c.RemoteAddr().String()}
	}
	return nil
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
		timeout = 20 * time.Second // grpc-go's default
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
	return fmt.Errorf("grpcflat: keepalive Timeout %v becomes TCP_USER_TIMEOUT (%d ms), replacing flatline's %d ms: %s; use grpcflat.Derive",
		kp.Timeout, timeout.Milliseconds(), want.Milliseconds(), cost)
}
