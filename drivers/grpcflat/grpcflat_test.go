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
	for _, timeout := range []time.Duration{3 * time.Second, 5 * time.Second, 15 * time.Second, 20 * time.Second, time.Minute} {
		cfg := flatline.Config{Timeout: timeout}
		plan, err := cfg.Plan()
		if err != nil {
			t.Fatal(err)
		}
		u := plan.Settings.UserTimeout
		for _, tt := range []struct {
			name    string
			kp      keepalive.ClientParameters
			want    keepalive.ClientParameters
			changed bool
		}{
			{"no pings of the caller's", keepalive.ClientParameters{}, keepalive.ClientParameters{}, false},
			{"pings off", keepalive.ClientParameters{Time: infinity}, keepalive.ClientParameters{}, false},
			{"the caller's {30s, 20s}", keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true},
				keepalive.ClientParameters{Time: 30 * time.Second, Timeout: u, PermitWithoutStream: true}, true},
			{"the caller's Time alone", keepalive.ClientParameters{Time: 5 * time.Minute}, keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: u}, true},
			{"already agreeing", keepalive.ClientParameters{Time: time.Minute, Timeout: u}, keepalive.ClientParameters{Time: time.Minute, Timeout: u}, false},
		} {
			p, err := Derive(cfg, tt.kp)
			if err != nil {
				t.Fatal(err)
			}
			if p.Client != tt.want || (p.Changed != "") != tt.changed {
				t.Errorf("T %v, %s: Derive = %+v, changed %q; want %+v, changed %v", timeout, tt.name, p.Client, p.Changed, tt.want, tt.changed)
			}
			if err := CheckParams(p.Client, cfg); err != nil {
				t.Errorf("T %v, %s: Derive's own parameters: %v", timeout, tt.name, err)
			}
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

func (l *recordingListener) first() net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[0]
}

// serve starts a gRPC server with the health service on loopback.
func serve(t *testing.T, lc flatline.ListenConfig, opts ...grpc.ServerOption) *recordingListener {
	t.Helper()
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &recordingListener{Listener: ln}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	go s.Serve(rl)
	t.Cleanup(s.Stop)
	return rl
}

func call(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
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
	return cc
}

// TestClashVisible: a default server's clash is read back from the kernel
// and reported; grpcflat's connections read back as planned, even with
// keepalive parameters given to gRPC behind grpcflat's back; a dialer that
// was replaced is not an all-clear.
func TestClashVisible(t *testing.T) {
	cfg := flatline.Config{Timeout: 5 * time.Second}
	plan, _ := cfg.Plan()
	rl := serve(t, flatline.ListenConfig{Config: cfg}) // grpc.NewServer's defaults
	dopts, d, err := DialOptions(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	call(t, rl.Addr().String(), append(dopts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}))...)
	// grpc-go sets TCP_USER_TIMEOUT only on a *net.TCPConn; grpcflat's
	// connections are not one, so even keepalive parameters given to gRPC
	// behind grpcflat's back leave the plan in place (Verify reads it).
	if err := d.Verify(); err != nil {
		t.Errorf("client Verify = %v, want the plan's %v kept", err, plan.Settings.UserTimeout)
	}
	var clash *ClashError
	if err := VerifyConn(rl.first(), plan); !errors.As(err, &clash) || clash.Got != 20*time.Second {
		t.Errorf("server VerifyConn = %v, want grpc's default server clash (20000 ms)", err)
	} else {
		t.Logf("server with grpc.NewServer's defaults: %v", err)
	}

	// The caller's own dialer after grpcflat's: grpcflat sees nothing.
	dopts, d, _ = DialOptions(cfg, Options{})
	call(t, rl.Addr().String(), append(dopts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}))...)
	if err := d.Verify(); !errors.Is(err, ErrNoConn) {
		t.Errorf("Verify with grpcflat's dialer replaced = %v, want ErrNoConn", err)
	}

	for _, kp := range []keepalive.ClientParameters{{}, {Time: 5 * time.Minute, Timeout: 20 * time.Second}} {
		sopts, lc, _, err := ServerOptions(cfg, keepalive.ServerParameters{})
		if err != nil {
			t.Fatal(err)
		}
		rl := serve(t, lc, sopts...)
		dopts, d, err := DialOptions(cfg, Options{Keepalive: kp, Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr) // the caller's own, composed
		}})
		if err != nil {
			t.Fatal(err)
		}
		call(t, rl.Addr().String(), dopts...)
		if err := d.Verify(); err != nil {
			t.Errorf("keepalive %+v, client with grpcflat's options: %v", kp, err)
		}
		if err := VerifyConn(rl.first(), plan); err != nil {
			t.Errorf("keepalive %+v, server with ServerOptions: %v", kp, err)
		}
	}
}
