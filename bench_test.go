package flatline_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// BenchmarkDialAccept compares a loopback dial + accept through flatline
// with the same through a plain net.Dialer and net.ListenConfig, on the
// same run:
//
//	go test -run '^$' -bench DialAccept -count 6 . | tee /tmp/b; benchstat -col /dialer /tmp/b
//
// cpu-ns/op is the process's CPU time a connection (both ends, the
// accepting goroutine's included), steadier than ns/op on a shared
// machine.
//
// setsockopt calls per side: Go's defaults make 4 (SO_KEEPALIVE,
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT); flatline makes 5 (the same and
// TCP_USER_TIMEOUT) and 2 more when Spread re-arms keepalive, later, off the
// dial path, from one timer per slot of the Dialer's or listener's
// spreader. The Dialer derives its plan once per Config, not per dial.
func BenchmarkDialAccept(b *testing.B) {
	cfg := flatline.Config{Timeout: 30 * time.Second, Spread: flatline.NoSpread}
	for _, bc := range []struct {
		name   string
		dial   func(ctx context.Context, network, addr string) (net.Conn, error)
		listen func(ctx context.Context, network, addr string) (net.Listener, error)
	}{
		{"dialer=net", (&net.Dialer{}).DialContext, (&net.ListenConfig{}).Listen},
		{"dialer=flatline", (&flatline.Dialer{Config: cfg}).DialContext, (&flatline.ListenConfig{Config: cfg}).Listen},
		{"dialer=flatline-spread", (&flatline.Dialer{}).DialContext, (&flatline.ListenConfig{}).Listen},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := bc.listen(context.Background(), "tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			addr := ln.Addr().String()
			ctx := context.Background()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				c, err := bc.dial(ctx, "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			b.StopTimer()
			// CPU time a connection, both ends: steadier than wall time
			// on a shared machine.
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}
			ln.Close()
			<-done
		})
	}
}

// BenchmarkPlan compares a pure Config.Plan with what it cost when every
// call read the host (kernel release and version) itself: here, a plan
// for a host read with ReadHost on every call:
//
//	go test -run '^$' -bench 'BenchmarkPlan$' -count 5 .
func BenchmarkPlan(b *testing.B) {
	cfg := flatline.Config{Timeout: 30 * time.Second}
	b.Run("pure", func(b *testing.B) {
		for b.Loop() {
			if _, err := cfg.Plan(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reading-host", func(b *testing.B) {
		for b.Loop() {
			h, err := flatline.ReadHost("/")
			if err != nil {
				b.Skip(err)
			}
			if _, err := cfg.PlanFor(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
