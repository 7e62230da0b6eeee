package grpcflat

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/netlab"
	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const slack = 500 * time.Millisecond

// TestIntegrationPartition: a default grpc.NewServer() (someone else's
// server: no options from grpcflat) in the server namespace, a client with
// grpcflat's options in the client namespace, a stream waiting on the
// server, every packet dropped in the router: the stream fails within T,
// and its error is a *flatline.CauseError with a dead-peer cause that
// still carries gRPC's status.
func TestIntegrationPartition(t *testing.T) {
	for _, timeout := range []time.Duration{5 * time.Second, 20 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			t.Parallel()
			topo := netlab.New(t)
			ln, err := topo.Listen(50051)
			if err != nil {
				t.Fatal(err)
			}
			s := grpc.NewServer()
			healthpb.RegisterHealthServer(s, health.NewServer())
			go s.Serve(ln)
			defer s.Stop()

			cfg := flatline.Config{Timeout: timeout}
			dopts, d, err := DialOptions(cfg, Options{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
				return topo.Dial((&net.Dialer{}).DialContext)(ctx, "tcp", addr)
			}})
			if err != nil {
				t.Fatal(err)
			}
			cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
			defer cancel()
			stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			if err := d.Verify(); err != nil {
				t.Fatal(err)
			}
			logPath(t, d)
			if err := topo.Partition(); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			_, err = stream.Recv()
			took := time.Since(cut)
			if err == nil {
				t.Fatal("Recv through a cut path returned a message")
			}
			if took > timeout+slack || ctx.Err() != nil {
				t.Errorf("partition noticed after %v, bound T = %v (+%v)", took, timeout, slack)
			}
			cause := flatline.Diagnose(nil, err)
			var ce *flatline.CauseError
			if !cause.DeadPeer() || !errors.As(err, &ce) || status.Code(err) != codes.Unavailable {
				t.Errorf("%v: cause %v, code %v; want a dead-peer cause in a *flatline.CauseError, code Unavailable", err, cause, status.Code(err))
			}
			t.Logf("partition noticed after %v (T %v): %v (cause %v)", took.Round(time.Millisecond), timeout, err, cause)
		})
	}
}

var idleFor = flag.Duration("grpcflat.idle", 11*time.Second, "how long TestIdleDefaultServer keeps the channel idle (the issue's GOAWAY came 29.8 s in; grpc-go's shortest ping interval is 10 s)")

// pingListener records when each connection's peer sent an HTTP/2 PING
// that is not an acknowledgement.
type pingListener struct {
	net.Listener
	mu    sync.Mutex
	pings []time.Time
}

func (l *pingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go l.watch(pr)
	return &teeConn{Conn: c, w: pw}, nil
}

// watch decodes the client's side of the connection: the preface, then
// frames.
func (l *pingListener) watch(r io.Reader) {
	if _, err := io.ReadFull(r, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(io.Discard, r)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			io.Copy(io.Discard, r)
			return
		}
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			l.mu.Lock()
			l.pings = append(l.pings, time.Now())
			l.mu.Unlock()
		}
	}
}

func (l *pingListener) since(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.pings {
		if !p.Before(t) {
			n++
		}
	}
	return n
}

// teeConn copies what it reads to w.
type teeConn struct {
	net.Conn
	w *io.PipeWriter
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.Write(b[:n])
	if err != nil {
		c.w.CloseWithError(err)
	}
	return n, err
}

// TestIdleDefaultServer: against a default grpc.NewServer() (pings
// permitted every 5 min, only with a stream) a grpcflat client at T = 20 s
// sends no HTTP/2 PING while idle (so no too_many_pings GOAWAY) and stays
// Ready: TCP keepalive probes, which flatline relies on, never reach gRPC.
// A PING within a few seconds of the call is grpc-go's bandwidth estimate
// (answering the response's data), not keepalive, whose floor is 10 s;
// `go test -run IdleDefault ./grpcflat -args -grpcflat.idle=3m` runs it
// for minutes.
func TestIdleDefaultServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := &pingListener{Listener: ln}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	go s.Serve(pl)
	defer s.Stop()
	dopts, d, err := DialOptions(flatline.Config{Timeout: 20 * time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cc := call(t, ln.Addr().String(), dopts...)
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}
	idleFrom := time.Now().Add(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), *idleFor)
	defer cancel()
	if cc.WaitForStateChange(ctx, connectivity.Ready) {
		t.Fatalf("the channel left Ready while idle: %v", cc.GetState())
	}
	if n := pl.since(idleFrom); n != 0 {
		t.Errorf("the client sent %d PINGs while idle for %v: a default server answers them with GOAWAY", n, *idleFor)
	}
	if err := d.Verify(); err != nil {
		t.Errorf("after %v idle: %v", *idleFor, err)
	}
}

// logPath logs the kernel's view of d's connections before the cut: a
// late failure under load comes with a long smoothed RTT and RTO.
func logPath(t *testing.T, d *Dialer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		rc, err := c.SyscallConn()
		if err != nil {
			continue
		}
		rc.Control(func(fd uintptr) {
			if i, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				t.Logf("before the cut: rtt %v (var %v), rto %v, unacked %d", time.Duration(i.Rtt)*time.Microsecond,
					time.Duration(i.Rttvar)*time.Microsecond, time.Duration(i.Rto)*time.Microsecond, i.Unacked)
			}
		})
	}
}
