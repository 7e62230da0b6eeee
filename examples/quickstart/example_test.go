package quickstart_test

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The README's quick start: a Dialer, net/http, gRPC, a listener, Diagnose.
func Example() {
	ctx := context.Background()
	buf := make([]byte, 4096)

	d := &flatline.Dialer{Config: flatline.Config{Timeout: 30 * time.Second}}
	conn, err := d.DialContext(ctx, "tcp", "db.internal:5432") // a *net.TCPConn, no deadline set
	if err != nil {
		return
	}
	defer conn.Close()

	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}} // a request, not only a connection, within T: examples/httpflat
	cc, err := grpc.NewClient("dns:///api.internal:443", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr) // gRPC's dialer takes (ctx, addr); keepalive parameters: examples/grpcflat
		}))
	if err == nil {
		defer cc.Close()
	}
	_ = client

	lc := flatline.ListenConfig{Config: flatline.Config{Timeout: 30 * time.Second}}
	ln, err := lc.Listen(ctx, "tcp", ":8080") // accepted connections carry the same settings
	if err == nil {
		defer ln.Close()
	}

	_, err = conn.Read(buf)
	switch flatline.Diagnose(conn, err) { // keepalive, unacked-data, closed-window, reset, deadline, ...
	}
}

// The README's liveness snippet: a frozen peer's kernel answers every
// probe, so a heartbeat on a connection of its own notices it.
func Example_liveness() {
	ctx := context.Background()
	work := make(chan struct{})
	hbConn, err := (&flatline.Dialer{Config: flatline.Config{Timeout: 5 * time.Second}}).DialContext(ctx, "tcp", "primary.internal:7401")
	if err != nil {
		return
	}

	m, err := liveness.New(hbConn, liveness.Config{Timeout: 5 * time.Second}) // both ends run one
	if err != nil {
		return
	}
	defer m.Close()
	select {
	case <-m.Done(): // m.Err(): ErrUnreachable (kernel), ErrUnresponsive (pings), ErrNoProgress (Beat)
	case <-work:
	}
}
