package redisflat

import (
	"context"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/internal/servertest"
	"github.com/flatline-dev/flatline/lab"
	"github.com/redis/go-redis/v9"
)

const (
	timeout = 3 * time.Second
	// slack is what the test allows beyond T for the kernel's timers, the
	// Go scheduler on a loaded 2-core machine and go-redis's command retry
	// backoff (8 ms, then doubling).
	slack = 500 * time.Millisecond
)

// TestIntegrationPartition: redis-server in the server namespace, go-redis
// in the client namespace, every packet dropped in the router: a BLPOP
// waiting with no timeout (keepalive decides) and a GET on a pooled
// connection after the cut (unacknowledged data, then go-redis's retries)
// fail within T. go-redis's own read and write deadlines are off, so only
// flatline decides.
func TestIntegrationPartition(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  func(context.Context, *redis.Client) error
	}{
		{"BLPOP waiting", func(ctx context.Context, c *redis.Client) error { return c.BLPop(ctx, 0, "queue").Err() }},
		{"GET after the cut", func(ctx context.Context, c *redis.Client) error { return c.Get(ctx, "key").Err() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := servertest.Topology(t)
			addr := servertest.Redis(t, topo)
			o, err := Options(addr, flatline.Config{Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			o.Dialer = servertest.InClient(topo, o.Dialer)
			o.ReadTimeout, o.WriteTimeout = -1, -1
			o.PoolSize = 1
			c := redis.NewClient(o)
			defer c.Close()
			ctx := context.Background()
			if err := c.Set(ctx, "key", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			failed := make(chan error, 1)
			blocking := tt.name == "BLPOP waiting"
			if blocking {
				go func() { failed <- tt.cmd(ctx, c) }()
				// Wait, bounded, until the server has the client blocked.
				other := redis.NewClient(&redis.Options{Addr: addr, Dialer: o.Dialer})
				defer other.Close()
				deadline := time.Now().Add(10 * time.Second)
				for {
					info, err := other.Info(ctx, "clients").Result()
					if err != nil {
						t.Fatal(err)
					}
					if contains(info, "blocked_clients:1") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("BLPOP not blocked within 10s")
					}
				}
			}
			if err := topo.Apply(lab.Blackhole); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			if !blocking {
				go func() { failed <- tt.cmd(ctx, c) }()
			}
			var cerr error
			select {
			case cerr = <-failed:
			case <-time.After(3 * timeout):
				t.Fatalf("command still waiting %v after the cut", 3*timeout)
			}
			took := time.Since(cut)
			if cerr == nil {
				t.Fatal("command through a cut path succeeded")
			}
			if took > timeout+slack {
				t.Errorf("command failed %v after the cut, bound T = %v (+%v)", took, timeout, slack)
			}
			t.Logf("command failed %v after the cut (T %v): %v", took, timeout, cerr)
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
