package quickstart_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/grpcflat"
	"github.com/flatline-dev/flatline/drivers/httpflat"
	"github.com/flatline-dev/flatline/drivers/pgxflat"
	"github.com/flatline-dev/flatline/drivers/redisflat"
	"github.com/flatline-dev/flatline/liveness"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
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

	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}} // a request, not only a connection, within T: drivers/httpflat
	cc, err := grpc.NewClient("dns:///api.internal:443", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr) // gRPC's dialer takes (ctx, addr); keepalive parameters: drivers/grpcflat
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

// The README's drivers snippet: flatline added to net/http, grpc-go, pgx
// and go-redis.
func Example_drivers() {
	ctx := context.Background()

	cfg := flatline.Config{Timeout: 30 * time.Second}
	tr, err := httpflat.New(nil, cfg, nil) // a clone of http.DefaultTransport: its pool and timeouts kept
	if err != nil {
		return
	}
	client := &http.Client{Transport: tr}
	_ = client

	dopts, gd, err := grpcflat.DialOptions(cfg, grpcflat.Options{}) // your keepalive parameters and dialer go in Options
	if err != nil {
		return
	}
	cc, err := grpc.NewClient("dns:///api.internal:443", append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err == nil {
		defer cc.Close()
	}
	err = gd.Verify() // every connection's options, read back from the kernel

	pcfg, err := pgx.ParseConfig("postgres://app@db.internal:5432/app")
	if err != nil {
		return
	}
	_, err = pgxflat.Configure(pcfg, cfg, nil) // pgx's TLS, timeouts and dial function kept
	if err != nil {
		return
	}
	pconn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return
	}
	_, err = pconn.Exec(ctx, "SELECT 1")
	cause := flatline.Diagnose(nil, pgxflat.Err(pconn, err)) // unacked-data, keepalive, ... where pgx says "unexpected EOF"
	_ = cause

	ropts, rd, err := redisflat.Options(&redis.Options{Addr: "cache.internal:6380", TLSConfig: &tls.Config{}}, cfg, nil)
	if err != nil {
		return
	}
	rdb := redis.NewClient(ropts) // TLS done (a server without TLS is refused), your options kept
	defer rdb.Close()
	rdb.AddHook(redisflat.Hook(rd)) // command errors carry the cause
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
