package grpcflat

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

func TestDerive(t *testing.T) {
	tests := []struct {
		t                     time.Duration
		ping, timeout, frozen time.Duration
	}{
		{5 * time.Second, infinity, 0, 0},
		{15 * time.Second, 10 * time.Second, 4600 * time.Millisecond, 14600 * time.Millisecond},
		{30 * time.Second, 10 * time.Second, 19600 * time.Millisecond, 29600 * time.Millisecond},
		{time.Minute, 20 * time.Second, 39600 * time.Millisecond, 59600 * time.Millisecond},
	}
	for _, tt := range tests {
		p, err := Derive(flatline.Config{Timeout: tt.t})
		if err != nil {
			t.Fatal(err)
		}
		if p.Client.Time != tt.ping || p.Client.Timeout != tt.timeout || p.FrozenPeer != tt.frozen || p.Server.Time != tt.ping {
			t.Errorf("Derive(%v) = client %+v, server %+v, frozen %v; want time %v, timeout %v, frozen %v",
				tt.t, p.Client, p.Server, p.FrozenPeer, tt.ping, tt.timeout, tt.frozen)
		}
		if tt.timeout > 0 && p.Plan.Settings.UserTimeout != tt.timeout {
			t.Errorf("Derive(%v): plan's user timeout %v, keepalive Timeout %v", tt.t, p.Plan.Settings.UserTimeout, tt.timeout)
		}
		if p.FrozenPeer > tt.t {
			t.Errorf("Derive(%v): frozen peer bound %v beyond T", tt.t, p.FrozenPeer)
		}
		if err := CheckParams(p.Client, p.Config); err != nil {
			t.Errorf("Derive(%v)'s own parameters: %v", tt.t, err)
		}
	}
}

// TestCheckParams: the two parameter sets measured in the issue.
func TestCheckParams(t *testing.T) {
	cfg := flatline.Config{Timeout: 5 * time.Second}
	for _, tt := range []struct {
		kp   keepalive.ClientParameters
		want string
	}{
		{keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}, "TCP_USER_TIMEOUT (20000 ms), replacing flatline's 3600 ms: unacknowledged data is noticed after 20s"},
		{keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second}, "one lost keepalive probe kills"},
		{keepalive.ClientParameters{Time: 30 * time.Second}, "(20000 ms)"},
	} {
		err := CheckParams(tt.kp, cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckParams(%+v) = %v, want it to say %q", tt.kp, err, tt.want)
		}
	}
	if err := CheckParams(keepalive.ClientParameters{}, cfg); err != nil {
		t.Errorf("no keepalive: %v", err)
	}
}

// recordingListener remembers the connections it accepted.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// serve starts a gRPC server with the health service on loopback.
func serve(t *testing.T, lc flatline.ListenConfig, opts ...grpc.ServerOption) (*recordingListener, *health.Server) {
	t.Helper()
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &recordingListener{Listener: ln}
	s := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(rl)
	t.Cleanup(s.Stop)
	return rl, hs
}

func call(t *testing.T, addr string, opts ...grpc.DialOption) {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

// TestClashVisible: what a new user writes (flatline's dialer, keepalive
// parameters of their own, a default server) is read back from the kernel
// and reported, on both ends; Derive's parameters read back as planned.
func TestClashVisible(t *testing.T) {
	cfg := flatline.Config{Timeout: 5 * time.Second}
	plan, _ := cfg.Plan()
	rl, _ := serve(t, flatline.ListenConfig{Config: cfg}) // grpc.NewServer's defaults
	d := &Dialer{params: Params{Config: cfg, Plan: plan}, d: flatline.Dialer{Config: cfg}}
	call(t, rl.Addr().String(), grpc.WithContextDialer(d.Dial),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}))

	var clash *ClashError
	if err := d.Verify(); !errors.As(err, &clash) || clash.Got != 20*time.Second || clash.Want != plan.Settings.UserTimeout {
		t.Errorf("client Verify = %v, want the clash 20000 ms against %v", err, plan.Settings.UserTimeout)
	} else {
		t.Logf("client: %v", err)
	}
	rl.mu.Lock()
	server := rl.conns[0]
	rl.mu.Unlock()
	if err := VerifyConn(server, plan); !errors.As(err, &clash) || clash.Got != 20*time.Second {
		t.Errorf("server VerifyConn = %v, want grpc's default server clash (20000 ms)", err)
	} else {
		t.Logf("server with grpc.NewServer's defaults: %v", err)
	}

	for _, timeout := range []time.Duration{5 * time.Second, 15 * time.Second} {
		cfg := flatline.Config{Timeout: timeout}
		sopts, lc, err := ServerOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rl, _ := serve(t, lc, sopts...)
		dopts, d, err := DialOptions(cfg)
		if err != nil {
			t.Fatal(err)
		}
		call(t, rl.Addr().String(), dopts...)
		if err := d.Verify(); err != nil {
			t.Errorf("T %v, client with Derive's parameters: %v", timeout, err)
		}
		p, _ := Derive(cfg)
		rl.mu.Lock()
		if err := VerifyConn(rl.conns[0], p.Plan); err != nil {
			t.Errorf("T %v, server with Derive's parameters: %v", timeout, err)
		}
		rl.mu.Unlock()
	}
}
