package grpcflat

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/internal/servertest"
	"github.com/flatline-dev/flatline/lab"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestIntegrationPartition: a gRPC server in the server namespace, a
// client with Derive's options in the client namespace, a stream waiting on
// the server, every packet dropped in the router: the stream fails within
// T, with gRPC's keepalive on (T = 15 s) and off (T = 5 s: flatline's
// socket settings alone, which gRPC then leaves alone).
func TestIntegrationPartition(t *testing.T) {
	for _, timeout := range []time.Duration{5 * time.Second, 15 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			t.Parallel()
			topo := servertest.Topology(t)
			cfg := flatline.Config{Timeout: timeout}
			sopts, lc, err := ServerOptions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener
			if err := topo.Server.Do(func() error {
				ln, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(topo.ServerAddr.String(), "50051"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			s := grpc.NewServer(sopts...)
			healthpb.RegisterHealthServer(s, health.NewServer())
			go s.Serve(ln)
			defer s.Stop()

			dopts, d, err := DialOptions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			inClient := servertest.InClient(topo, func(ctx context.Context, _, addr string) (net.Conn, error) { return d.Dial(ctx, addr) })
			dopts = append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return inClient(ctx, "tcp", addr) }))
			cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), dopts...)
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
			if err := topo.Apply(lab.Blackhole); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			_, err = stream.Recv()
			took := time.Since(cut)
			if err == nil {
				t.Fatal("Recv through a cut path returned a message")
			}
			const slack = 500 * time.Millisecond
			if took > timeout+slack || ctx.Err() != nil {
				t.Errorf("partition noticed after %v, bound T = %v (+%v)", took, timeout, slack)
			}
			t.Logf("partition noticed after %v (T %v): %v", took, timeout, err)
		})
	}
}
