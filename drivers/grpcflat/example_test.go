package grpcflat_test

import (
	"log"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/grpcflat"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// A channel whose connections notice a dead server within 20 s. The
// caller's own pings (every 5 minutes, what a default server permits) are
// kept; their Timeout becomes the plan's user timeout, and Changed says so.
func ExampleDialOptions() {
	opts, d, err := grpcflat.DialOptions(flatline.Config{Timeout: 20 * time.Second}, grpcflat.Options{
		Keepalive: keepalive.ClientParameters{Time: 5 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	if d.Params.Changed != "" {
		log.Print(d.Params.Changed)
	}
	cc, err := grpc.NewClient("dns:///api.internal:443", append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	// ... after the first RPC:
	if err := d.Verify(); err != nil {
		log.Print(err) // a clash, an unreadable socket, or no connection seen
	}
}
